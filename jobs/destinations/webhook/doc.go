// Package webhook is the webhook destination: it POSTs each action as a
// JSON body signed per the Standard Webhooks specification (HMAC-SHA256,
// secrets "whsec_" + base64, several signatures during key rotation), and
// reads the receiver's answer into a jobs.DeliveryOutcome.
//
// Verify is the receiver's side of the same scheme; docs/webhooks.md shows
// a complete receiver built on it.
package webhook
