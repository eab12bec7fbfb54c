// Package securitytest is the end-to-end security suite: hostile tokens,
// an authorization table over every REST route and WebSocket frame type,
// brute force, hostile transports (foreign origins, oversized or slow
// requests, connection floods, slow consumers), secrets kept out of the
// logs, and a fuzz target over every JSON request body. It holds tests
// only; docs/security.md maps each defence to the test that shows it.
package securitytest
