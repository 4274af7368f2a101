package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// outcomePath is the route of the outcome endpoint on serve's HTTP server.
const outcomePath = "/v1/actions/{id}/outcome"

// maxOutcomeBody bounds the request body: a status, an outcome, a time
// and a note fit in far less.
const maxOutcomeBody = 64 << 10

// maxOutcomeSkew is how far ahead of the clock an outcome time may be,
// for the clocks of the systems reporting it.
const maxOutcomeSkew = 5 * time.Minute

// Results of outcome requests, the result label of
// tierflow_outcome_requests_total.
const (
	resultRecorded      = "recorded"
	resultDisabled      = "disabled"
	resultMethod        = "method_not_allowed"
	resultUnauthorized  = "unauthorized"
	resultBadRequest    = "bad_request"
	resultTooLarge      = "too_large"
	resultNoAction      = "no_action"
	resultNotFinishable = "not_finishable"
	resultBadOutcome    = "bad_outcome"
	resultError         = "error"
)

var outcomeResults = []string{resultRecorded, resultDisabled, resultMethod, resultUnauthorized, resultBadRequest,
	resultTooLarge, resultNoAction, resultNotFinishable, resultBadOutcome, resultError}

// outcomeHandler serves POST /v1/actions/ID/outcome: a consumer, a
// destination's callback or a person's tool reports how a follow-up
// ended, as tierflow actions done|fail does from a terminal.
type outcomeHandler struct {
	store jobs.OutcomeStore
	// ruleSet returns the rule set running under a name, nil when serve
	// does not run it.
	ruleSet func(name string) *rules.RuleSet
	// digests are the SHA-256 of the accepted bearer tokens; none turns
	// the endpoint off.
	digests [][sha256.Size]byte
	now     func() time.Time
	logger  *slog.Logger
	metrics *outcomeMetrics
	// redact removes database secrets from errors before they are logged.
	redact func(string) string
}

// outcomeRequest is the body of a request.
type outcomeRequest struct {
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
	Note    string `json:"note"`
	// At is an RFC 3339 time; empty means the server's clock.
	At string `json:"at"`
}

// outcomeResponse is the body of a 200.
type outcomeResponse struct {
	ID       int64     `json:"id"`
	RuleSet  string    `json:"ruleset"`
	Action   string    `json:"action"`
	Customer string    `json:"customer"`
	Status   string    `json:"status"`
	Outcome  string    `json:"outcome"`
	At       time.Time `json:"at"`
}

// httpError is a refused request: its status, result label and message.
type httpError struct {
	status int
	result string
	msg    string
}

func (h *outcomeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, herr := h.serve(r.Context(), w, r)
	if herr != nil {
		h.refuse(w, r, herr)
		return
	}
	h.metrics.requests.WithLabelValues(resultRecorded).Inc()
	h.metrics.outcomes.WithLabelValues(resp.RuleSet, resp.Action, resp.Status, resp.Outcome).Inc()
	h.logger.Info("outcome recorded", "id", resp.ID, "ruleset", resp.RuleSet, "action", resp.Action, "status", resp.Status, "outcome", resp.Outcome)
	writeJSONResponse(w, http.StatusOK, resp)
}

// serve handles one request; it returns the response or why not.
func (h *outcomeHandler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request) (*outcomeResponse, *httpError) {
	if len(h.digests) == 0 {
		return nil, &httpError{http.StatusNotFound, resultDisabled,
			"the outcome endpoint is off: name the file (token_file) or environment variable (token_env) holding its bearer token under serve.outcomes in tierflow.yaml and restart serve (docs/operations.md)"}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &httpError{http.StatusMethodNotAllowed, resultMethod, fmt.Sprintf("method %s: report an outcome with POST", r.Method)}
	}
	if herr := h.authorize(w, r); herr != nil {
		return nil, herr
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, &httpError{http.StatusNotFound, resultNoAction, fmt.Sprintf("no action %q: an action id is a whole number (the id column of tierflow actions list)", r.PathValue("id"))}
	}
	report, herr := h.decode(w, r, id)
	if herr != nil {
		return nil, herr
	}
	ref, err := jobs.RecordOutcome(ctx, h.store, h.ruleSet, report)
	if err != nil {
		return nil, h.recordError(id, err)
	}
	return &outcomeResponse{ID: ref.ID, RuleSet: ref.RuleSet, Action: ref.Action, Customer: ref.Customer,
		Status: ref.Status, Outcome: report.Outcome, At: report.At}, nil
}

// authorize checks the bearer token, comparing digests in constant time
// with every accepted token.
func (h *outcomeHandler) authorize(w http.ResponseWriter, r *http.Request) *httpError {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tierflow"`)
		return &httpError{http.StatusUnauthorized, resultUnauthorized,
			"no bearer token: send Authorization: Bearer TOKEN, with the token serve.outcomes names"}
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, d := range h.digests {
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	if match != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tierflow", error="invalid_token"`)
		return &httpError{http.StatusUnauthorized, resultUnauthorized, "the bearer token is not one serve.outcomes names"}
	}
	return nil
}

// decode reads the body of a request about action id.
func (h *outcomeHandler) decode(w http.ResponseWriter, r *http.Request, id int64) (jobs.OutcomeReport, *httpError) {
	const shape = `send {"status": "done", "outcome": "reached", "note": "...", "at": "2024-07-01T15:04:05Z"}`
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOutcomeBody))
	dec.DisallowUnknownFields()
	var req outcomeRequest
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return jobs.OutcomeReport{}, &httpError{http.StatusRequestEntityTooLarge, resultTooLarge, fmt.Sprintf("the body is over %d bytes", maxOutcomeBody)}
	case errors.Is(err, io.EOF):
		return jobs.OutcomeReport{}, &httpError{http.StatusBadRequest, resultBadRequest, "the body is empty: " + shape}
	case err != nil:
		return jobs.OutcomeReport{}, &httpError{http.StatusBadRequest, resultBadRequest, fmt.Sprintf("the body is not an outcome (%v): %s", err, shape)}
	}
	now := h.now()
	at := now
	if req.At != "" {
		if at, err = time.Parse(time.RFC3339Nano, req.At); err != nil {
			return jobs.OutcomeReport{}, &httpError{http.StatusBadRequest, resultBadRequest, fmt.Sprintf("at: %q is not an RFC 3339 time, such as 2024-07-01T15:04:05Z; leave it out for the server's clock", req.At)}
		}
	}
	if err := notFuture(at, now); err != nil {
		return jobs.OutcomeReport{}, &httpError{http.StatusUnprocessableEntity, resultBadOutcome, "at: " + err.Error()}
	}
	return jobs.OutcomeReport{ID: id, Status: req.Status, Outcome: req.Outcome, Note: req.Note, At: outcomeTime(at)}, nil
}

// outcomeTime is t as the stores keep it: UTC, to the microsecond.
func outcomeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// notFuture refuses an outcome time ahead of now by more than the skew
// of a reporter's clock: coverage counts an outcome from its time.
func notFuture(at, now time.Time) error {
	if at.After(now.Add(maxOutcomeSkew)) {
		return fmt.Errorf("%s is in the future (the clock says %s): report a follow-up once it has ended", at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// recordError maps an error of jobs.RecordOutcome to a response.
func (h *outcomeHandler) recordError(id int64, err error) *httpError {
	switch {
	case isNoAction(err):
		return &httpError{http.StatusNotFound, resultNoAction, fmt.Sprintf("no action %d in the queue", id)}
	case errors.Is(err, jobs.ErrNotFinishable):
		return &httpError{http.StatusConflict, resultNotFinishable, notFinishable(err)}
	case errors.Is(err, jobs.ErrBadOutcome):
		return &httpError{http.StatusUnprocessableEntity, resultBadOutcome, err.Error()}
	}
	h.logger.Error("outcome not recorded", "id", id, "error", h.redact(err.Error()))
	return &httpError{http.StatusInternalServerError, resultError, "the outcome could not be recorded; serve's log says why"}
}

// notFinishable says why an action takes no outcome, and which do.
func notFinishable(err error) string {
	msg := err.Error()
	if !strings.Contains(msg, "only ") {
		msg += "; only pending, claimed, done or failed actions take an outcome"
	}
	return msg
}

// refuse answers a refused request and counts it.
func (h *outcomeHandler) refuse(w http.ResponseWriter, r *http.Request, e *httpError) {
	h.metrics.requests.WithLabelValues(e.result).Inc()
	if e.status < http.StatusInternalServerError && e.result != resultDisabled {
		h.logger.Warn("outcome request refused", "path", r.URL.Path, "status", e.status, "result", e.result, "reason", e.msg)
	}
	writeJSONResponse(w, e.status, struct {
		Error string `json:"error"`
	}{e.msg})
}

func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tokenDigests are the SHA-256 digests the handler compares with.
func tokenDigests(tokens []string) [][sha256.Size]byte {
	out := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		out[i] = sha256.Sum256([]byte(t))
	}
	return out
}
