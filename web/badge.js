/* Building Register: the badge page's Print button (no inline script under the CSP). */
document.getElementById('badge-print')?.addEventListener('click', () => window.print())
