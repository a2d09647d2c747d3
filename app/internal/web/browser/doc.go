// Package browser holds the students' page's browser tests: headless
// Chromium driven by chromedp against the app on real PostgreSQL and Redis.
// It has no code of its own.
package browser
