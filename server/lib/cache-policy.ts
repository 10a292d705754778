/**
 * Cache-Control for a page about the person asking: kept out of shared caches (`private`) and
 * checked with the server before every use (`no-cache`), yet, unlike `no-store`, eligible for the
 * browser's back/forward cache, so Back is instant. web/app.js reloads a page restored from that
 * cache when it may be out of date (the home page's state, or any page after a logout).
 */
export const PRIVATE_PAGE = 'private, no-cache'
