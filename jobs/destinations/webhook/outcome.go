package webhook

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/internal/destkit"
)

// classify turns a receiver's answer into an outcome: 2xx is accepted;
// 4xx other than 408, 409, 425 and 429 is permanent; the rest (3xx, as
// redirects are not followed, and 5xx) is retried.
func classify(status int, h http.Header, excerpt string, now time.Time) jobs.DeliveryOutcome {
	out := jobs.DeliveryOutcome{Status: status, Response: excerpt}
	if status >= 200 && status < 300 {
		return out
	}
	out.Err = fmt.Errorf("webhook: receiver answered %d %s", status, http.StatusText(status))
	switch {
	case status >= 300 && status < 400:
		out.Err = fmt.Errorf("webhook: receiver answered %d %s; redirects are not followed, configure the final url", status, http.StatusText(status))
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		out.RetryAfter = destkit.RetryAfter(h.Get("Retry-After"), now)
	case status >= 400 && status < 500:
		switch status {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly:
		default:
			out.Permanent = true
		}
	}
	return out
}
