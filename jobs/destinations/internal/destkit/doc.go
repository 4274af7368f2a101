// Package destkit holds what the HTTP destinations share: field
// templates that map a delivery onto CRM fields (Field, CompileFields),
// a cached token shared by concurrent deliveries (TokenSource), and the
// HTTP plumbing that turns an answer into a jobs.DeliveryOutcome with
// every secret removed (Post, Classify, RetryAfter, Redact, Excerpt,
// Outcome).
//
// It is internal to jobs/destinations; the API-specific parts (request
// shapes, token endpoints, error envelopes) stay in each destination.
package destkit
