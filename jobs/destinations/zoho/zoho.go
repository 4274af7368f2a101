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

// Zoho is a jobs.BatchDestination that writes to one Zoho CRM organisation.
// It is safe for concurrent use.
type Zoho struct {
	cfg    Config
	c      compiled
	tokens *destkit.TokenSource
}

var _ jobs.BatchDestination = (*Zoho)(nil)

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
	return z.DeliverBatch(ctx, []*jobs.Delivery{d})[0]
}

// MaxBatch is the most records Zoho's upsert (and Tasks insert) takes in
// one request.
func (z *Zoho) MaxBatch() int { return maxBatch }

const maxBatch = 100

// result is one delivery's exchange and error while a batch is delivered.
type result struct {
	ex   destkit.Exchange
	err  error
	task map[string]any
}

// DeliverBatch upserts the records of ds in one request and then creates
// the Tasks of those whose upsert succeeded in one more. Each record's
// status in Zoho's answer is its delivery's outcome; a failure of a whole
// request is the outcome of every delivery in it. A delivery whose
// mapping fails is left out of the requests and fails permanently.
func (z *Zoho) DeliverBatch(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome {
	ctx, cancel := context.WithTimeout(ctx, z.cfg.Timeout)
	defer cancel()
	res := make([]result, len(ds))
	for start := 0; start < len(ds); start += maxBatch {
		end := min(start+maxBatch, len(ds))
		z.deliverBatch(ctx, ds[start:end], res[start:end])
	}
	outs := make([]jobs.DeliveryOutcome, len(ds))
	secrets := z.secrets()
	for i, r := range res {
		err := r.err
		if err != nil {
			err = fmt.Errorf("zoho: %w", err)
		}
		outs[i] = destkit.Outcome(r.ex, err, secrets)
	}
	return outs
}

// deliverBatch delivers at most maxBatch deliveries into res.
func (z *Zoho) deliverBatch(ctx context.Context, ds []*jobs.Delivery, res []result) {
	var sent []int
	var recs []any
	for i, d := range ds {
		rec, task, err := z.records(d)
		if err != nil {
			res[i].err = &destkit.Failure{Err: err, Permanent: true}
			continue
		}
		res[i].task = task
		sent = append(sent, i)
		recs = append(recs, rec)
	}
	if len(sent) == 0 {
		return
	}
	exs, ids, errs := z.write(ctx, z.cfg.Module+"/upsert", map[string]any{
		"data":                   recs,
		"duplicate_check_fields": []string{z.cfg.ExternalIDField},
	}, len(sent))
	var withTask []int
	var tasks []any
	for j, i := range sent {
		res[i].ex, res[i].err = exs[j], errs[j]
		task := res[i].task
		if errs[j] != nil || task == nil {
			continue
		}
		if z.cfg.Module == "Contacts" || z.cfg.Module == "Leads" {
			task["Who_Id"] = map[string]string{"id": ids[j]}
		} else {
			task["What_Id"] = map[string]string{"id": ids[j]}
			task["$se_module"] = z.cfg.Module
		}
		withTask = append(withTask, i)
		tasks = append(tasks, task)
	}
	if len(tasks) == 0 {
		return
	}
	exs, _, errs = z.write(ctx, "Tasks", map[string]any{"data": tasks}, len(tasks))
	for j, i := range withTask {
		res[i].ex = exs[j]
		if errs[j] != nil {
			res[i].err = fmt.Errorf("create task: %w", errs[j])
		}
	}
}

// records maps one delivery to its record and, for a task action, its
// Task (without the link to the record).
func (z *Zoho) records(d *jobs.Delivery) (rec, task map[string]any, err error) {
	payload, err := destkit.DecodePayload(d.Payload)
	if err != nil {
		return nil, nil, err
	}
	rec = map[string]any{z.cfg.ExternalIDField: d.Customer}
	if err := destkit.ApplyFields(z.c.fields, d, payload, rec); err != nil {
		return nil, nil, err
	}
	if t := z.c.task; t != nil && (len(t.actions) == 0 || t.actions[d.Action]) {
		if task, err = z.taskRecord(d, payload); err != nil {
			return nil, nil, err
		}
	}
	return rec, task, nil
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

// write posts n records to a module endpoint and reads each record's
// status from the answer's data[], in the order sent: a 2xx whose record
// says "error" is that record's failure (permanent: sending the same
// record again gets the same answer). A failure of the request is every
// record's. When n > 1, each record's exchange carries only its own
// entry of data[] as the body, for its excerpt.
func (z *Zoho) write(ctx context.Context, path string, body any, n int) ([]destkit.Exchange, []string, []error) {
	what := "post " + path
	exs, ids, errs := make([]destkit.Exchange, n), make([]string, n), make([]error, n)
	all := func(ex destkit.Exchange, err error) ([]destkit.Exchange, []string, []error) {
		for j := range n {
			exs[j], errs[j] = ex, err
		}
		return exs, ids, errs
	}
	ex, err := z.call(ctx, path, body)
	if err != nil {
		return all(ex, err)
	}
	var resp struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ex.Body, &resp); err != nil || len(resp.Data) == 0 {
		return all(ex, &destkit.Failure{Err: fmt.Errorf("%s: http %d: no record status in the response", what, ex.Status), Ex: ex})
	}
	for j := range n {
		exs[j] = ex
		if j >= len(resp.Data) {
			errs[j] = &destkit.Failure{Err: fmt.Errorf("%s: http %d: no record status for record %d of %d", what, ex.Status, j+1, n), Ex: ex}
			continue
		}
		if n > 1 {
			exs[j].Body = resp.Data[j]
		}
		var r recordResult
		_ = json.Unmarshal(resp.Data[j], &r)
		if !strings.EqualFold(r.Status, "success") {
			msg := fmt.Sprintf("%s: http %d: record %s: %s: %s", what, ex.Status, destkit.OrDefault(r.Status, "without status"), r.Code, r.Message)
			if len(r.Details) > 0 && string(r.Details) != "{}" {
				msg += " " + string(r.Details)
			}
			errs[j] = &destkit.Failure{Err: errors.New(msg), Ex: exs[j], Permanent: true}
			continue
		}
		var det struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(r.Details, &det)
		ids[j] = det.ID
	}
	return exs, ids, errs
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
