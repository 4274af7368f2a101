package fxiaoke

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

const (
	testAppSecret     = "app-SECRET-5e4d"
	testPermanentCode = "perm-SECRET-77aa"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeFxiaoke speaks the shape of Fxiaoke's open API: every answer is a
// 200 with an errorCode unless told otherwise.
type fakeFxiaoke struct {
	t  *testing.T
	mu sync.Mutex

	tokenFetches int
	issued       int
	valid        map[string]bool
	tokenDelay   time.Duration
	tokenBody    string

	requests map[string][][]byte // path -> request bodies
	records  map[string]string   // external id -> _id
	// next, when nextStatus != 0, answers the next data call.
	nextStatus int
	nextBody   string
	nextHeader http.Header
}

func newFake(t *testing.T) (*fakeFxiaoke, *httptest.Server) {
	f := &fakeFxiaoke{t: t, valid: map[string]bool{}, requests: map[string][][]byte{},
		records: map[string]string{"c-42": "65f0aa01", "c-9": "65f0aa09"}}
	for i := range 20 {
		f.records[fmt.Sprint("c-", i)] = fmt.Sprint("65f1", i)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeFxiaoke) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/cgi/corpAccessToken/get/V2" {
		time.Sleep(f.tokenDelay)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.tokenFetches++
		if f.tokenBody != "" {
			fmt.Fprint(w, f.tokenBody)
			return
		}
		var req map[string]string
		_ = json.Unmarshal(body, &req)
		if req["appId"] != "FSAID_1" || req["appSecret"] != testAppSecret || req["permanentCode"] != testPermanentCode {
			fmt.Fprint(w, `{"errorCode":20001,"errorMessage":"appId or appSecret is wrong"}`)
			return
		}
		f.issued++
		tok := fmt.Sprintf("CAT-SECRET-%d", f.issued)
		f.valid[tok] = true
		fmt.Fprintf(w, `{"errorCode":0,"errorMessage":"success","corpAccessToken":%q,"corpId":"FSCID_9","expiresIn":7200}`, tok)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Query().Get("thirdTraceId") == "" {
		f.t.Errorf("%s without thirdTraceId", r.URL.Path)
	}
	var req struct {
		CorpAccessToken   string `json:"corpAccessToken"`
		CorpID            string `json:"corpId"`
		CurrentOpenUserID string `json:"currentOpenUserId"`
		Data              struct {
			ObjectData      map[string]any `json:"object_data"`
			SearchQueryInfo struct {
				Filters []struct {
					FieldName   string   `json:"field_name"`
					FieldValues []string `json:"field_values"`
					Operator    string   `json:"operator"`
				} `json:"filters"`
			} `json:"search_query_info"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &req)
	if !f.valid[req.CorpAccessToken] || req.CorpID != "FSCID_9" || req.CurrentOpenUserID != "FSUID_1" {
		fmt.Fprint(w, `{"errorCode":20016,"errorMessage":"corpAccessToken is invalid","traceId":"E-O.1"}`)
		return
	}
	if f.nextStatus != 0 {
		for k, vs := range f.nextHeader {
			w.Header()[k] = vs
		}
		w.WriteHeader(f.nextStatus)
		fmt.Fprint(w, f.nextBody)
		f.nextStatus = 0
		return
	}
	f.requests[r.URL.Path] = append(f.requests[r.URL.Path], body)
	switch {
	case strings.HasSuffix(r.URL.Path, "/data/query"):
		fl := req.Data.SearchQueryInfo.Filters
		id, ok := "", false
		if len(fl) == 1 && fl[0].FieldName == "external_id__c" && fl[0].Operator == "EQ" && len(fl[0].FieldValues) == 1 {
			id, ok = f.records[fl[0].FieldValues[0]]
		}
		if !ok {
			fmt.Fprint(w, `{"errorCode":0,"errorMessage":"OK","data":{"dataList":[],"total":0}}`)
			return
		}
		fmt.Fprintf(w, `{"errorCode":0,"errorMessage":"OK","data":{"dataList":[{"_id":%q}],"total":1}}`, id)
	case strings.HasSuffix(r.URL.Path, "/data/update"), strings.HasSuffix(r.URL.Path, "/data/create"):
		fmt.Fprint(w, `{"traceId":"E-O.2","errorDescription":"success","dataId":"68fa01","errorMessage":"OK","errorCode":0}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeFxiaoke) fetches() int { f.mu.Lock(); defer f.mu.Unlock(); return f.tokenFetches }
func (f *fakeFxiaoke) sent(path string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}
func (f *fakeFxiaoke) revokeAll() { f.mu.Lock(); f.valid = map[string]bool{}; f.mu.Unlock() }

func testConfig(srv *httptest.Server, clock *fakeClock) Config {
	return Config{
		BaseURL: srv.URL, AppID: "FSAID_1", AppSecret: testAppSecret, PermanentCode: testPermanentCode,
		CurrentOpenUserID: "FSUID_1",
		MatchField:        "external_id__c",
		Fields: map[string]string{
			"value_tier__c":  "payload.segment",
			"tier_source__c": "=tierflow",
			"last_action__c": "action",
			"spend__c":       "payload.facts.spend",
		},
		Now: clock.Now,
	}
}

func testDelivery(customer string) *jobs.Delivery {
	return &jobs.Delivery{
		ID: 3, IdempotencyKey: "ik-" + customer, RuleSet: "retail", Action: "winback_call", Customer: customer,
		Priority: 1, Attempt: 1, Payload: json.RawMessage(`{"segment":"at_risk","facts":{"spend":99.5},"note":"call soon"}`),
		DueAt: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC),
	}
}

func mustNew(t *testing.T, cfg Config) *Fxiaoke {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func start() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)} }

func TestDeliverFindsAndUpdatesRecord(t *testing.T) {
	f, srv := newFake(t)
	x := mustNew(t, testConfig(srv, start()))
	out := x.Deliver(context.Background(), testDelivery("c-42"))
	if out.Err != nil || out.Status != 200 || !strings.Contains(out.Response, `"dataId":"68fa01"`) {
		t.Fatalf("outcome = %+v, want accepted with the update's answer", out)
	}
	q := f.sent("/cgi/crm/v2/data/query")
	if len(q) != 1 {
		t.Fatalf("queries = %d, want 1", len(q))
	}
	wantQuery := `{"corpAccessToken":"CAT-SECRET-1","corpId":"FSCID_9","currentOpenUserId":"FSUID_1","data":{"dataObjectApiName":"AccountObj","search_query_info":{"filters":[{"field_name":"external_id__c","field_values":["c-42"],"operator":"EQ"}],"limit":1,"offset":0}}}`
	if string(q[0]) != wantQuery {
		t.Errorf("query body\n got %s\nwant %s", q[0], wantQuery)
	}
	u := f.sent("/cgi/crm/v2/data/update")
	wantUpdate := `{"corpAccessToken":"CAT-SECRET-1","corpId":"FSCID_9","currentOpenUserId":"FSUID_1","data":{"object_data":{"_id":"65f0aa01","dataObjectApiName":"AccountObj","last_action__c":"winback_call","spend__c":99.5,"tier_source__c":"tierflow","value_tier__c":"at_risk"}}}`
	if len(u) != 1 || string(u[0]) != wantUpdate {
		t.Errorf("update bodies %q\nwant %s", u, wantUpdate)
	}
}

func TestConcurrentDeliveriesShareOneToken(t *testing.T) {
	f, srv := newFake(t)
	f.tokenDelay = 50 * time.Millisecond
	clock := start()
	x := mustNew(t, testConfig(srv, clock))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out := x.Deliver(context.Background(), testDelivery(fmt.Sprint("c-", i))); out.Err != nil {
				errs <- out.Err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.fetches(); n != 1 {
		t.Errorf("token fetches = %d for 20 concurrent deliveries, want 1", n)
	}
	clock.Add(110 * time.Minute) // 7200s lifetime minus a 5-minute margin is 115 minutes
	if out := x.Deliver(context.Background(), testDelivery("c-1")); out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := f.fetches(); n != 1 {
		t.Errorf("token fetches = %d after 110 minutes, want 1", n)
	}
	clock.Add(6 * time.Minute)
	if out := x.Deliver(context.Background(), testDelivery("c-1")); out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := f.fetches(); n != 2 {
		t.Errorf("token fetches = %d after 116 minutes, want 2", n)
	}
}

func TestTokenErrorCodeRefreshesOnce(t *testing.T) {
	f, srv := newFake(t)
	clock := start()
	x := mustNew(t, testConfig(srv, clock))
	if out := x.Deliver(context.Background(), testDelivery("c-42")); out.Err != nil {
		t.Fatal(out.Err)
	}
	clock.Add(2 * time.Minute)
	f.revokeAll()
	out := x.Deliver(context.Background(), testDelivery("c-9"))
	if out.Err != nil {
		t.Fatalf("outcome after revocation = %+v, want accepted", out)
	}
	if n := f.fetches(); n != 2 {
		t.Errorf("token fetches = %d, want 2", n)
	}
	if n := len(f.sent("/cgi/crm/v2/data/update")); n != 2 {
		t.Errorf("updates = %d, want 2", n)
	}
}

func TestTokenErrorRespectsMinInterval(t *testing.T) {
	f, srv := newFake(t)
	clock := start()
	x := mustNew(t, testConfig(srv, clock))
	if out := x.Deliver(context.Background(), testDelivery("c-42")); out.Err != nil {
		t.Fatal(out.Err)
	}
	clock.Add(20 * time.Second)
	f.revokeAll()
	out := x.Deliver(context.Background(), testDelivery("c-9"))
	if out.Err == nil || out.Permanent || out.RetryAfter != 40*time.Second {
		t.Fatalf("outcome = %+v, want a retryable failure asking for 40s", out)
	}
	if !strings.Contains(out.Err.Error(), "token endpoint may be asked again in 40s") {
		t.Errorf("err = %q", out.Err)
	}
	if n := f.fetches(); n != 1 {
		t.Errorf("token fetches = %d within the minimum interval, want 1", n)
	}
}

func TestTokenErrorTwiceFails(t *testing.T) {
	f, srv := newFake(t)
	f.tokenBody = `{"errorCode":0,"corpAccessToken":"CAT-SECRET-stale","corpId":"FSCID_9","expiresIn":7200}`
	clock := start()
	cfg := testConfig(srv, clock)
	cfg.Now = func() time.Time { clock.Add(time.Minute); return clock.Now() } // every look at the clock is a minute later
	x := mustNew(t, cfg)
	out := x.Deliver(context.Background(), testDelivery("c-42"))
	if out.Err == nil || out.Status != 200 || !strings.Contains(out.Err.Error(), "errorCode 20016") {
		t.Fatalf("outcome = %+v, want the token errorCode reported", out)
	}
	if n := f.fetches(); n != 2 {
		t.Errorf("token fetches = %d, want 2 (the first and one refresh)", n)
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		header     http.Header
		permanent  bool
		retryAfter time.Duration
		wantErr    string
	}{
		{name: "errorCode in a 200", status: 200, body: `{"errorCode":320001401,"errorMessage":"field value_tier__c does not exist","traceId":"E-O.3"}`,
			wantErr: "fxiaoke: post /cgi/crm/v2/data/update: errorCode 320001401: field value_tier__c does not exist"},
		{name: "200 without errorCode", status: 200, body: `<html>gateway</html>`,
			wantErr: "post /cgi/crm/v2/data/update: http 200: no errorCode in the response"},
		{name: "server error", status: 500, body: `oops`, wantErr: "post /cgi/crm/v2/data/update: http 500"},
		{name: "rate limited", status: 429, body: `{}`, header: http.Header{"Retry-After": {"30"}},
			retryAfter: 30 * time.Second, wantErr: "http 429"},
		{name: "not found", status: 404, body: `no such path`, permanent: true, wantErr: "http 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			cfg := testConfig(srv, start())
			cfg.MatchField = "_id" // the customer key is the record id: no query
			x := mustNew(t, cfg)
			f.nextStatus, f.nextBody, f.nextHeader = tc.status, tc.body, tc.header
			out := x.Deliver(context.Background(), testDelivery("65f0aa01"))
			if out.Err == nil || !strings.Contains(out.Err.Error(), tc.wantErr) {
				t.Fatalf("outcome = %+v, want an error containing %q", out, tc.wantErr)
			}
			if out.Status != tc.status || out.Permanent != tc.permanent || out.RetryAfter != tc.retryAfter || out.Response != tc.body {
				t.Errorf("outcome = %+v, want status %d permanent %v retry after %s response %q",
					out, tc.status, tc.permanent, tc.retryAfter, tc.body)
			}
		})
	}
}

func TestRecordNotFoundIsPermanent(t *testing.T) {
	f, srv := newFake(t)
	x := mustNew(t, testConfig(srv, start()))
	out := x.Deliver(context.Background(), testDelivery("c-unknown"))
	if out.Err == nil || !out.Permanent || out.Err.Error() != `fxiaoke: find AccountObj: no record with external_id__c = "c-unknown"` {
		t.Fatalf("outcome = %+v, want a permanent not-found failure", out)
	}
	if n := len(f.sent("/cgi/crm/v2/data/update")); n != 0 {
		t.Errorf("updates = %d, want none", n)
	}
}

func TestCreatesFollowUp(t *testing.T) {
	f, srv := newFake(t)
	cfg := testConfig(srv, start())
	cfg.Object = "member__c"
	cfg.FollowUp = &FollowUpConfig{
		Actions:   []string{"winback_call"},
		Object:    "tierflow_followup__c",
		LinkField: "member__c",
		Fields:    map[string]string{"name": "action", "note__c": "payload.note", "due__c": "due_at"},
	}
	x := mustNew(t, cfg)
	out := x.Deliver(context.Background(), testDelivery("c-42"))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := len(f.sent("/cgi/crm/custom/v2/data/update")); n != 1 {
		t.Errorf("custom updates = %d, want 1", n)
	}
	c := f.sent("/cgi/crm/custom/v2/data/create")
	want := `{"corpAccessToken":"CAT-SECRET-1","corpId":"FSCID_9","currentOpenUserId":"FSUID_1","data":{"object_data":{"dataObjectApiName":"tierflow_followup__c","due__c":"2025-03-10T09:00:00Z","member__c":"65f0aa01","name":"winback_call","note__c":"call soon"}}}`
	if len(c) != 1 || string(c[0]) != want {
		t.Errorf("follow-up bodies %q\nwant %s", c, want)
	}
	d := testDelivery("c-42")
	d.Action = "vip_care"
	if out := x.Deliver(context.Background(), d); out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := len(f.sent("/cgi/crm/custom/v2/data/create")); n != 1 {
		t.Errorf("follow-ups = %d after another action, want still 1", n)
	}
}

func TestSecretsNeverLeave(t *testing.T) {
	secrets := []string{testAppSecret, testPermanentCode, "CAT-SECRET-1", "SECRET"}
	check := func(t *testing.T, out jobs.DeliveryOutcome) {
		t.Helper()
		if out.Err == nil {
			t.Fatalf("outcome = %+v, want a failure", out)
		}
		for _, s := range secrets {
			if strings.Contains(out.Err.Error(), s) || strings.Contains(out.Response, s) {
				t.Errorf("secret %q leaked: err %q response %q", s, out.Err, out.Response)
			}
		}
	}
	t.Run("token endpoint echoes the request", func(t *testing.T) {
		f, srv := newFake(t)
		f.tokenBody = `{"errorCode":20001,"errorMessage":"bad appSecret ` + testAppSecret + ` for code ` + testPermanentCode + `","appSecret":"` + testAppSecret + `"}`
		x := mustNew(t, testConfig(srv, start()))
		out := x.Deliver(context.Background(), testDelivery("c-42"))
		check(t, out)
		if out.Status != 200 || out.Permanent || !strings.Contains(out.Err.Error(), "get corpAccessToken: errorCode 20001") {
			t.Errorf("outcome = %+v, want a retryable token failure", out)
		}
	})
	t.Run("API echoes the token", func(t *testing.T) {
		f, srv := newFake(t)
		x := mustNew(t, testConfig(srv, start()))
		f.nextStatus = 200
		f.nextBody = `{"errorCode":10001,"errorMessage":"bad request with token CAT-SECRET-1","corpAccessToken":"CAT-SECRET-1"}`
		check(t, x.Deliver(context.Background(), testDelivery("c-42")))
	})
}

func TestNew(t *testing.T) {
	_, err := New(Config{FollowUp: &FollowUpConfig{Fields: map[string]string{"x": "nope"}}})
	if err == nil {
		t.Fatal("New accepted an invalid config")
	}
	for _, want := range []string{"app_id: required", "app_secret: required", "permanent_code: required",
		"current_open_user_id: required", "follow_up.object: required", "follow_up.link_field: required",
		`follow_up.fields["x"]: unknown template "nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := New(Config{AppID: "a", AppSecret: "b", PermanentCode: "c", CurrentOpenUserID: "d"}); err == nil ||
		!strings.Contains(err.Error(), "fields: required unless follow_up is set") {
		t.Errorf("err = %v, want fields required", err)
	}
	x, err := New(Config{AppID: "a", AppSecret: "b", PermanentCode: "c", CurrentOpenUserID: "d", Fields: map[string]string{"t": "customer"}})
	if err != nil {
		t.Fatal(err)
	}
	if x.c.base != "https://open.fxiaoke.com" || x.cfg.Object != "AccountObj" || x.cfg.MinTokenInterval != time.Minute || !x.c.tokenCodes[20016] {
		t.Errorf("defaults = %+v %+v", x.c, x.cfg)
	}
}
