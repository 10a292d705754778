/** Where Twilio posts delivery reports: PUBLIC_URL + this path. */
export const TWILIO_STATUS_PATH = '/webhooks/twilio/status'
