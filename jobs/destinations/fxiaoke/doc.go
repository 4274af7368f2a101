// Package fxiaoke delivers tierflow actions to Fxiaoke CRM (纷享销客): it
// updates fields of the customer's object record (AccountObj or a custom
// object), declared in a mapping, and for follow-up actions creates a
// follow-up record linked to it.
//
// The corpAccessToken comes from the app-secret token flow
// (/cgi/corpAccessToken/get/V2); it is cached for its lifetime minus a
// margin, shared by concurrent deliveries, and never requested more often
// than MinTokenInterval. Fxiaoke reports errors as HTTP 200 with a
// non-zero errorCode; those are failures here. docs/crm.md describes the
// configuration and the assumptions made where the documentation is
// silent.
package fxiaoke
