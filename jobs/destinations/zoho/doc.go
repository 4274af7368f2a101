// Package zoho delivers tierflow actions to Zoho CRM: it upserts the
// customer's record by an external-id field, setting fields declared in a
// mapping, and for follow-up actions creates a Task linked to that record.
//
// Access tokens come from the OAuth 2.0 refresh-token flow of the
// data centre's accounts server; one token is cached until shortly before
// it expires and shared by concurrent deliveries. docs/crm.md describes
// the configuration and the assumptions made where Zoho's documentation
// is silent.
package zoho
