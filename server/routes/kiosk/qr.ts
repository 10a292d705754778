import QRCode from 'qrcode'

/** A QR code for a URL, as an SVG data URL (the CSP allows data: images, not inline markup). */
export async function qrDataUrl(text: string): Promise<string> {
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`
}

/** A QR code for a URL as a PNG (for emails: mail clients show PNG, not SVG or data URLs). */
export async function qrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 400 })
}
