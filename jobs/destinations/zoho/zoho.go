package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/internal/destkit"
)

// Zoho is a jobs.Destination that writes to one Zoho CRM organisation.
// It is safe for concurrent use.
type Zoho struct {
	cfg    Config
	c      compiled
	tokens *destkit.TokenSource
}

var _ jobs.Destination = (*Zoho)(nil)

// New checks cfg, fills its defaults and returns the destination.
func New(cfg Config) (*Zoho, error) {
	c, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("zoho: %w", err)
	}
	z := &Zoho{cfg: cfg, c: c}
	z.tokens = destkit.NewTokenSource(z.fetchToken, cfg.Now, destkit.TokenMargin, 0)
	return z, nil
}

// secrets lists what must never leave in an error or excerpt.
func (z *Zoho) secrets() []string {
	return append([]string{z.cfg.ClientSecret, z.cfg.RefreshToken}, z.tokens.Tokens()...)
}

// Deliver upserts the customer's record and, for a task action, creates
// its Task. A retry repeats the upsert (idempotent by the external id);
// the Task is created only after the upsert succeeded.
func (z *Zoho) Deliver(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	ctx, cancel := context.WithTimeout(ctx, z.cfg.Timeout)
	defer cancel()
	ex, err := z.deliver(ctx, d)
	if err != nil {
		err = fmt.Errorf("zoho: %w", err)
	}
	return destkit.Outcome(ex, err, z.secrets())
}

func (z *Zoho) deliver(ctx context.Context, d *jobs.Delivery) (destkit.Exchange, error) {
	payload, err := destkit.DecodePayload(d.Payload)
	if err != nil {
		return destkit.Exchange{}, &destkit.Failure{Err: err, Permanent: true}
	}
	rec := map[string]any{z.cfg.ExternalIDField: d.Customer}
	if err := destkit.ApplyFields(z.c.fields, d, payload, rec); err != nil {
		return destkit.Exchange{}, &destkit.Failure{Err: err, Permanent: true}
	}
	var task map[string]any
	if t := z.c.task; t != nil && (len(t.actions) == 0 || t.actions[d.Action]) {
		if task, err = z.taskRecord(d, payload); err != nil {
			return destkit.Exchange{}, &destkit.Failure{Err: err, Permanent: true}
		}
	}
	ex, id, err := z.write(ctx, z.cfg.Module+"/upsert", map[string]any{
		"data":                   []any{rec},
		"duplicate_check_fields": []string{z.cfg.ExternalIDField},
	})
	if err != nil || task == nil {
		return ex, err
	}
	if z.cfg.Module == "Contacts" || z.cfg.Module == "Leads" {
		task["Who_Id"] = map[string]string{"id": id}
	} else {
		task["What_Id"] = map[string]string{"id": id}
		task["$se_module"] = z.cfg.Module
	}
	ex, _, err = z.write(ctx, "Tasks", map[string]any{"data": []any{task}})
	if err != nil {
		return ex, fmt.Errorf("create task: %w", err)
	}
	return ex, nil
}

// taskRecord builds the Task for one delivery, without its link.
func (z *Zoho) taskRecord(d *jobs.Delivery, payload map[string]any) (map[string]any, error) {
	t := z.c.task
	subject, _, err := t.subject.Value(d, payload)
	if err != nil {
		return nil, fmt.Errorf("task subject: %w", err)
	}
	due := d.DueAt
	if due.IsZero() {
		due = z.cfg.Now()
	}
	if t.dueIn != nil {
		v, ok, err := t.dueIn.Value(d, payload)
		if err != nil {
			return nil, fmt.Errorf("task due_in: %w", err)
		}
		if ok {
			dur, err := parseDueIn(v)
			if err != nil {
				return nil, fmt.Errorf("task due_in: %w", err)
			}
			due = due.Add(dur)
		}
	}
	task := map[string]any{
		"Subject":  destkit.Text(subject),
		"Due_Date": due.UTC().Format("2006-01-02"),
		"Description": fmt.Sprintf("tierflow: action %s for customer %s (rule set %s, idempotency key %s)",
			d.Action, d.Customer, d.RuleSet, d.IdempotencyKey),
	}
	if p, ok := t.priority[d.Priority]; ok {
		task["Priority"] = p
	} else if t.defPrio != "" {
		task["Priority"] = t.defPrio
	}
	if t.owner != "" {
		task["Owner"] = map[string]string{"id": t.owner}
	}
	if err := destkit.ApplyFields(t.fields, d, payload, task); err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	return task, nil
}

// parseDueIn reads a number of days or a duration ("72h", "3d").
func parseDueIn(v any) (time.Duration, error) {
	s := strings.TrimSpace(destkit.Text(v))
	if days, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.ParseFloat(n, 64); err == nil {
			return time.Duration(days * float64(24*time.Hour)), nil
		}
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither days nor a duration", s)
	}
	return dur, nil
}

// recordResult is Zoho's per-record answer.
type recordResult struct {
	Code    string          `json:"code"`
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

// apiError is Zoho's request-level error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// write posts one record to a module endpoint and reads its record-level
// status: a 2xx whose record says "error" is a failure (permanent:
// sending the same record again gets the same answer).
func (z *Zoho) write(ctx context.Context, path string, body any) (destkit.Exchange, string, error) {
	what := "post " + path
	ex, err := z.call(ctx, path, body)
	if err != nil {
		return ex, "", err
	}
	var resp struct {
		Data []recordResult `json:"data"`
	}
	if err := json.Unmarshal(ex.Body, &resp); err != nil || len(resp.Data) == 0 {
		return ex, "", &destkit.Failure{Err: fmt.Errorf("%s: http %d: no record status in the response", what, ex.Status), Ex: ex}
	}
	r := resp.Data[0]
	if !strings.EqualFold(r.Status, "success") {
		msg := fmt.Sprintf("%s: http %d: record %s: %s: %s", what, ex.Status, destkit.OrDefault(r.Status, "without status"), r.Code, r.Message)
		if len(r.Details) > 0 && string(r.Details) != "{}" {
			msg += " " + string(r.Details)
		}
		return ex, "", &destkit.Failure{Err: errors.New(msg), Ex: ex, Permanent: true}
	}
	var det struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Details, &det)
	return ex, det.ID, nil
}

// call posts body with the cached token; a 401 INVALID_TOKEN drops the
// token, and the request is sent once more with a new one.
func (z *Zoho) call(ctx context.Context, path string, body any) (destkit.Exchange, error) {
	what := "post " + path
	b, err := json.Marshal(body)
	if err != nil {
		return destkit.Exchange{}, &destkit.Failure{Err: fmt.Errorf("%s: encode: %w", what, err), Permanent: true}
	}
	for retried := false; ; retried = true {
		tok, err := z.tokens.Get(ctx)
		if err != nil {
			return destkit.Exchange{}, err
		}
		base := z.c.apiURL
		if base == "" {
			base = destkit.OrDefault(tok.Extra, z.c.defaultAPIURL)
		}
		u := base + "/crm/" + z.c.version + "/" + path
		ex, err := destkit.Post(ctx, z.cfg.Client, u, "application/json", b, http.Header{"Authorization": {"Zoho-oauthtoken " + tok.Value}})
		if err != nil {
			return ex, &destkit.Failure{Err: fmt.Errorf("%s: %w", what, err)}
		}
		var ae apiError
		_ = json.Unmarshal(ex.Body, &ae)
		if ex.Status == http.StatusUnauthorized && ae.Code == "INVALID_TOKEN" && !retried {
			if err := z.tokens.Invalidate(ctx, tok); err != nil {
				return ex, err
			}
			continue
		}
		detail := strings.TrimPrefix(ae.Code+": "+ae.Message, ": ")
		if ae.Code == "" && ae.Message == "" {
			detail = ""
		}
		return ex, destkit.Classify(ex, what, detail, z.cfg.Now())
	}
}

// fetchToken exchanges the refresh token for an access token. The
// parameters go in the form body, never the URL, so that transport errors
// (which quote the URL) cannot carry them.
func (z *Zoho) fetchToken(ctx context.Context) (destkit.Token, time.Duration, error) {
	const what = "refresh access token"
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {z.cfg.ClientID},
		"client_secret": {z.cfg.ClientSecret},
		"refresh_token": {z.cfg.RefreshToken},
	}
	ex, err := destkit.Post(ctx, z.cfg.Client, z.c.accountsURL+"/oauth/v2/token", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	if err != nil {
		return destkit.Token{}, 0, &destkit.Failure{Err: fmt.Errorf("%s: %w", what, err)}
	}
	var resp struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
		ExpiresSec  float64 `json:"expires_in_sec"`
		APIDomain   string  `json:"api_domain"`
		Error       string  `json:"error"`
	}
	_ = json.Unmarshal(ex.Body, &resp)
	if err := destkit.Classify(ex, what, resp.Error, z.cfg.Now()); err != nil {
		var f *destkit.Failure
		if errors.As(err, &f) {
			f.Permanent = false // a credential an operator can fix
		}
		return destkit.Token{}, 0, err
	}
	if resp.Error != "" || resp.AccessToken == "" {
		return destkit.Token{}, 0, &destkit.Failure{Err: fmt.Errorf("%s: http %d: %s", what, ex.Status, destkit.OrDefault(resp.Error, "no access_token in the response")), Ex: ex}
	}
	// Some Zoho services give expires_in in milliseconds, with
	// expires_in_sec beside it.
	secs := resp.ExpiresIn
	if resp.ExpiresSec > 0 {
		secs = resp.ExpiresSec
	} else if secs > 86400 {
		secs /= 1000
	}
	ttl := time.Duration(secs * float64(time.Second))
	if ttl <= 0 {
		ttl = time.Hour
	}
	return destkit.Token{Value: resp.AccessToken, Extra: strings.TrimRight(resp.APIDomain, "/")}, ttl, nil
}
