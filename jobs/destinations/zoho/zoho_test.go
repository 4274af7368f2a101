package zoho

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
	testClientSecret = "cs-SECRET-9f8e7d"
	testRefreshToken = "1000.refresh-SECRET-abc"
)

// fakeClock is a settable clock.
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

// fakeZoho speaks the shape of Zoho's accounts server and CRM API.
type fakeZoho struct {
	t  *testing.T
	mu sync.Mutex

	tokenFetches int
	issued       int
	valid        map[string]bool
	tokenDelay   time.Duration
	tokenStatus  int    // 0: 200
	tokenBody    string // when set, the token endpoint answers this

	upserts [][]byte
	tasks   [][]byte
	// apiStatus/apiBody/apiHeader, when apiStatus != 0, answer the next
	// API call instead of the normal behaviour.
	apiStatus int
	apiBody   string
	apiHeader http.Header
	// recordErrors answers the upserted record of a customer with a
	// record-level error of this code; taskErrors fails the Task with this
	// Subject.
	recordErrors map[string]string
	taskErrors   map[string]bool
	taskStatus   int // when set, the Tasks endpoint answers this status
}

func newFakeZoho(t *testing.T) (*fakeZoho, *httptest.Server) {
	f := &fakeZoho{t: t, valid: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeZoho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/oauth/v2/token" {
		f.serveToken(w, r, body)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Zoho-oauthtoken ")
	if !f.valid[tok] {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`)
		return
	}
	if f.apiStatus != 0 {
		for k, vs := range f.apiHeader {
			w.Header()[k] = vs
		}
		w.WriteHeader(f.apiStatus)
		fmt.Fprint(w, f.apiBody)
		f.apiStatus = 0
		return
	}
	switch r.URL.Path {
	case "/crm/v7/Contacts/upsert", "/crm/v7/Accounts/upsert":
		f.upserts = append(f.upserts, body)
		var req struct {
			Data []map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &req)
		var out []string
		for j, rec := range req.Data {
			if code := f.recordErrors[fmt.Sprint(rec["Customer_ID"])]; code != "" {
				out = append(out, fmt.Sprintf(`{"code":%q,"details":{"api_name":"Spend"},"message":"invalid data","status":"error"}`, code))
				continue
			}
			out = append(out, fmt.Sprintf(`{"code":"SUCCESS","duplicate_field":"Customer_ID","action":"update","details":{"id":"41508680000%02d"},"message":"record updated","status":"success"}`, j+1))
		}
		fmt.Fprintf(w, `{"data":[%s]}`, strings.Join(out, ","))
	case "/crm/v7/Tasks":
		f.tasks = append(f.tasks, body)
		if f.taskStatus != 0 {
			w.WriteHeader(f.taskStatus)
			fmt.Fprint(w, `{"code":"INTERNAL_ERROR","message":"internal error"}`)
			return
		}
		var req struct {
			Data []map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &req)
		var out []string
		for j, task := range req.Data {
			if f.taskErrors[fmt.Sprint(task["Subject"])] {
				out = append(out, `{"code":"INVALID_DATA","details":{"api_name":"Due_Date"},"message":"invalid data","status":"error"}`)
				continue
			}
			out = append(out, fmt.Sprintf(`{"code":"SUCCESS","details":{"id":"41508680000%02d"},"message":"record added","status":"success"}`, 99-j))
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"data":[%s]}`, strings.Join(out, ","))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeZoho) serveToken(w http.ResponseWriter, r *http.Request, body []byte) {
	time.Sleep(f.tokenDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenFetches++
	if r.URL.RawQuery != "" {
		f.t.Errorf("token request carries a query %q; want parameters in the body", r.URL.RawQuery)
	}
	if f.tokenBody != "" {
		w.WriteHeader(max(f.tokenStatus, 200))
		fmt.Fprint(w, f.tokenBody)
		return
	}
	form, _ := parseForm(body)
	if form["grant_type"] != "refresh_token" || form["client_id"] != "cid" ||
		form["client_secret"] != testClientSecret || form["refresh_token"] != testRefreshToken {
		fmt.Fprint(w, `{"error":"invalid_code"}`)
		return
	}
	f.issued++
	tok := fmt.Sprintf("1000.access-SECRET-%d", f.issued)
	f.valid[tok] = true
	fmt.Fprintf(w, `{"access_token":%q,"api_domain":"http://%s","token_type":"Bearer","expires_in":3600}`, tok, r.Host)
}

func parseForm(b []byte) (map[string]string, error) {
	req, _ := http.NewRequest("POST", "/", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k := range req.PostForm {
		out[k] = req.PostForm.Get(k)
	}
	return out, nil
}

// revokeAll makes every issued token invalid, as Zoho does when a token
// expires or is revoked early.
func (f *fakeZoho) revokeAll() {
	f.mu.Lock()
	f.valid = map[string]bool{}
	f.mu.Unlock()
}

func (f *fakeZoho) fetches() int { f.mu.Lock(); defer f.mu.Unlock(); return f.tokenFetches }

func testConfig(srv *httptest.Server, clock *fakeClock) Config {
	return Config{
		AccountsURL:     srv.URL,
		ClientID:        "cid",
		ClientSecret:    testClientSecret,
		RefreshToken:    testRefreshToken,
		ExternalIDField: "Customer_ID",
		Fields: map[string]string{
			"Value_Tier":   "payload.segment",
			"Tier_Source":  "=tierflow",
			"Last_Action":  "action",
			"Rule_Set":     "ruleset",
			"Spend":        "payload.facts.spend",
			"Nickname":     "payload.nickname?",
			"Action_Prio":  "priority",
			"Action_Due":   "due_at",
			"Idempotency":  "idempotency_key",
			"Customer_Key": "customer",
		},
		Now: clock.Now,
	}
}

func testDelivery(customer string) *jobs.Delivery {
	return &jobs.Delivery{
		ID: 7, IdempotencyKey: "ik-" + customer, RuleSet: "retail", Action: "winback_call",
		Customer: customer, Priority: 2,
		Payload: json.RawMessage(`{"segment":"at_risk","facts":{"spend":1234.50}}`),
		DueAt:   time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC),
	}
}

func mustNew(t *testing.T, cfg Config) *Zoho {
	t.Helper()
	z, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestDeliverMapsFieldsIntoUpsert(t *testing.T) {
	f, srv := newFakeZoho(t)
	clock := &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}
	z := mustNew(t, testConfig(srv, clock))

	out := z.Deliver(context.Background(), testDelivery("c-42"))
	if out.Err != nil || out.Status != 200 {
		t.Fatalf("outcome = %+v, want accepted with 200", out)
	}
	if !strings.Contains(out.Response, `"record updated"`) {
		t.Errorf("response excerpt %q lacks the record status", out.Response)
	}
	if len(f.upserts) != 1 {
		t.Fatalf("upserts = %d, want 1", len(f.upserts))
	}
	want := `{"data":[{"Action_Due":"2025-03-10T09:00:00Z","Action_Prio":2,"Customer_ID":"c-42","Customer_Key":"c-42","Idempotency":"ik-c-42","Last_Action":"winback_call","Rule_Set":"retail","Spend":1234.50,"Tier_Source":"tierflow","Value_Tier":"at_risk"}],"duplicate_check_fields":["Customer_ID"]}`
	if got := string(f.upserts[0]); got != want {
		t.Errorf("upsert body\n got %s\nwant %s", got, want)
	}
}

func TestConcurrentDeliveriesShareOneToken(t *testing.T) {
	f, srv := newFakeZoho(t)
	f.tokenDelay = 50 * time.Millisecond // callers pile up behind the refresh
	clock := &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}
	z := mustNew(t, testConfig(srv, clock))

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out := z.Deliver(context.Background(), testDelivery(fmt.Sprint("c-", i))); out.Err != nil {
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
	// Later deliveries within the token's life reuse it too.
	clock.Add(50 * time.Minute)
	if out := z.Deliver(context.Background(), testDelivery("c-late")); out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := f.fetches(); n != 1 {
		t.Errorf("token fetches = %d after 50 minutes, want 1", n)
	}
	// Past expiry minus the margin, a new token is fetched.
	clock.Add(6 * time.Minute)
	if out := z.Deliver(context.Background(), testDelivery("c-later")); out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := f.fetches(); n != 2 {
		t.Errorf("token fetches = %d after 56 minutes, want 2", n)
	}
}

func TestInvalidTokenMidRunRefreshesOnce(t *testing.T) {
	f, srv := newFakeZoho(t)
	clock := &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}
	z := mustNew(t, testConfig(srv, clock))
	if out := z.Deliver(context.Background(), testDelivery("c-1")); out.Err != nil {
		t.Fatal(out.Err)
	}
	f.revokeAll()
	out := z.Deliver(context.Background(), testDelivery("c-2"))
	if out.Err != nil || out.Status != 200 {
		t.Fatalf("outcome after revocation = %+v, want accepted", out)
	}
	if n := f.fetches(); n != 2 {
		t.Errorf("token fetches = %d, want 2 (one refresh)", n)
	}
	if len(f.upserts) != 2 {
		t.Errorf("upserts = %d, want 2", len(f.upserts))
	}
}

func TestInvalidTokenTwiceFails(t *testing.T) {
	f, srv := newFakeZoho(t)
	clock := &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}
	// Tokens are issued but never accepted by the API.
	f.tokenBody = `{"access_token":"1000.never-valid","expires_in":3600}`
	cfg := testConfig(srv, clock)
	cfg.APIURL = srv.URL
	z := mustNew(t, cfg)
	out := z.Deliver(context.Background(), testDelivery("c-1"))
	if out.Err == nil || out.Status != 401 || out.Permanent {
		t.Fatalf("outcome = %+v, want a retryable 401 failure", out)
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
		wantStatus int
		permanent  bool
		retryAfter time.Duration
		wantErr    string
	}{
		{name: "server error", status: 500, body: `{"code":"INTERNAL_ERROR","message":"internal error"}`,
			wantStatus: 500, wantErr: "http 500: INTERNAL_ERROR: internal error"},
		{name: "rate limited", status: 429, body: `{"code":"TOO_MANY_REQUESTS","message":"slow down"}`,
			header: http.Header{"Retry-After": {"7"}}, wantStatus: 429, retryAfter: 7 * time.Second, wantErr: "http 429"},
		{name: "unavailable with a date", status: 503, body: `busy`,
			header:     http.Header{"Retry-After": {"Mon, 10 Mar 2025 08:02:00 GMT"}},
			wantStatus: 503, retryAfter: 2 * time.Minute, wantErr: "http 503"},
		{name: "bad request", status: 400, body: `{"code":"INVALID_MODULE","message":"the module name given seems to be invalid"}`,
			wantStatus: 400, permanent: true, wantErr: "INVALID_MODULE"},
		{name: "record error in a 200", status: 200,
			body:       `{"data":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Last_Name"},"message":"required field not found","status":"error"}]}`,
			wantStatus: 200, permanent: true, wantErr: `record error: MANDATORY_NOT_FOUND: required field not found {"api_name":"Last_Name"}`},
		{name: "record error in a 202", status: 202,
			body:       `{"data":[{"code":"INVALID_DATA","details":{"api_name":"Spend"},"message":"invalid data","status":"error"}]}`,
			wantStatus: 202, permanent: true, wantErr: "record error: INVALID_DATA"},
		{name: "2xx without records", status: 200, body: `{}`, wantStatus: 200, wantErr: "no record status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeZoho(t)
			clock := &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}
			z := mustNew(t, testConfig(srv, clock))
			f.apiStatus, f.apiBody, f.apiHeader = tc.status, tc.body, tc.header
			out := z.Deliver(context.Background(), testDelivery("c-1"))
			if out.Err == nil {
				t.Fatalf("outcome = %+v, want a failure", out)
			}
			if !strings.Contains(out.Err.Error(), tc.wantErr) || !strings.HasPrefix(out.Err.Error(), "zoho: post Contacts/upsert: ") {
				t.Errorf("err = %q, want it to start with the request and contain %q", out.Err, tc.wantErr)
			}
			if out.Status != tc.wantStatus || out.Permanent != tc.permanent || out.RetryAfter != tc.retryAfter {
				t.Errorf("outcome = status %d permanent %v retry after %s, want %d %v %s",
					out.Status, out.Permanent, out.RetryAfter, tc.wantStatus, tc.permanent, tc.retryAfter)
			}
			if out.Response != tc.body {
				t.Errorf("response = %q, want %q", out.Response, tc.body)
			}
		})
	}
}

func TestCreatesTaskLinkedToRecord(t *testing.T) {
	for _, tc := range []struct {
		module, link string
	}{
		{"Contacts", `"Who_Id":{"id":"4150868000001"}`},
		{"Accounts", `"What_Id":{"id":"4150868000001"},"$se_module":"Accounts"`},
	} {
		t.Run(tc.module, func(t *testing.T) {
			f, srv := newFakeZoho(t)
			clock := &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}
			cfg := testConfig(srv, clock)
			cfg.Module = tc.module
			cfg.Fields = nil
			cfg.Task = &TaskConfig{
				Actions:  []string{"winback_call"},
				Subject:  "payload.subject",
				DueIn:    "payload.due_in_days",
				Priority: map[int]string{1: "Highest", 2: "High"},
				Owner:    "4150868000000225013",
				Fields:   map[string]string{"Status": "=Not Started"},
			}
			z := mustNew(t, cfg)
			d := testDelivery("c-9")
			d.Payload = json.RawMessage(`{"subject":"Call back: at risk","due_in_days":3}`)
			out := z.Deliver(context.Background(), d)
			if out.Err != nil || out.Status != 201 {
				t.Fatalf("outcome = %+v, want accepted with 201", out)
			}
			if len(f.tasks) != 1 {
				t.Fatalf("tasks = %d, want 1", len(f.tasks))
			}
			var got map[string][]map[string]any
			if err := json.Unmarshal(f.tasks[0], &got); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got["data"][0])
			want := `{"Description":"tierflow: action winback_call for customer c-9 (rule set retail, idempotency key ik-c-9)","Due_Date":"2025-03-13","Owner":{"id":"4150868000000225013"},"Priority":"High","Status":"Not Started","Subject":"Call back: at risk",` + tc.link + `}`
			if want = normalize(t, want); string(b) != want {
				t.Errorf("task\n got %s\nwant %s", b, want)
			}

			// Another action upserts but creates no task.
			d.Action = "vip_care"
			if out := z.Deliver(context.Background(), d); out.Err != nil {
				t.Fatal(out.Err)
			}
			if len(f.tasks) != 1 || len(f.upserts) != 2 {
				t.Errorf("tasks = %d upserts = %d, want 1 and 2", len(f.tasks), len(f.upserts))
			}
		})
	}
}

func normalize(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMappingErrorIsPermanent(t *testing.T) {
	f, srv := newFakeZoho(t)
	clock := &fakeClock{t: time.Now()}
	z := mustNew(t, testConfig(srv, clock))
	d := testDelivery("c-1")
	d.Payload = json.RawMessage(`{"facts":{}}`)
	out := z.Deliver(context.Background(), d)
	if out.Err == nil || !out.Permanent || out.Status != 0 {
		t.Fatalf("outcome = %+v, want a permanent failure before any request", out)
	}
	if want := `zoho: field "Spend": payload has no "facts.spend"`; out.Err.Error() != want {
		t.Errorf("err = %q, want it to name the missing payload field", out.Err)
	}
	if f.fetches() != 0 {
		t.Errorf("a mapping error fetched a token")
	}
}

func TestSecretsNeverLeave(t *testing.T) {
	secrets := []string{testClientSecret, testRefreshToken, "1000.access-SECRET-1"}
	check := func(t *testing.T, out jobs.DeliveryOutcome) {
		t.Helper()
		if out.Err == nil {
			t.Fatalf("outcome = %+v, want a failure", out)
		}
		for _, s := range append(secrets, "SECRET") {
			if strings.Contains(out.Err.Error(), s) || strings.Contains(out.Response, s) {
				t.Errorf("secret %q leaked: err %q response %q", s, out.Err, out.Response)
			}
		}
	}
	t.Run("token endpoint echoes the request", func(t *testing.T) {
		f, srv := newFakeZoho(t)
		f.tokenStatus = 400
		f.tokenBody = `{"error":"invalid_client","client_secret":"` + testClientSecret + `","echo":"refresh_token=` + testRefreshToken + `&x=1"}`
		z := mustNew(t, testConfig(srv, &fakeClock{t: time.Now()}))
		out := z.Deliver(context.Background(), testDelivery("c-1"))
		check(t, out)
		if out.Status != 400 || out.Permanent || !strings.Contains(out.Err.Error(), "refresh access token: http 400: invalid_client") {
			t.Errorf("outcome = %+v, want a retryable 400 from the token endpoint", out)
		}
	})
	t.Run("token endpoint refuses in a 200", func(t *testing.T) {
		f, srv := newFakeZoho(t)
		f.tokenBody = `{"error":"invalid_code","refresh_token":"` + testRefreshToken + `"}`
		z := mustNew(t, testConfig(srv, &fakeClock{t: time.Now()}))
		out := z.Deliver(context.Background(), testDelivery("c-1"))
		check(t, out)
		if !strings.Contains(out.Err.Error(), "invalid_code") {
			t.Errorf("err = %q, want the token error named", out.Err)
		}
	})
	t.Run("API echoes the access token", func(t *testing.T) {
		f, srv := newFakeZoho(t)
		z := mustNew(t, testConfig(srv, &fakeClock{t: time.Now()}))
		f.apiStatus = 400
		f.apiBody = `{"code":"INVALID_DATA","message":"bad header Zoho-oauthtoken 1000.access-SECRET-1","access_token":"1000.access-SECRET-1"}`
		check(t, z.Deliver(context.Background(), testDelivery("c-1")))
	})
}

func TestTransportFailureIsRetryable(t *testing.T) {
	_, srv := newFakeZoho(t)
	cfg := testConfig(srv, &fakeClock{t: time.Now()})
	srv.Close()
	z := mustNew(t, cfg)
	out := z.Deliver(context.Background(), testDelivery("c-1"))
	if out.Err == nil || out.Permanent || out.Status != 0 {
		t.Fatalf("outcome = %+v, want a retryable failure with no status", out)
	}
}

func TestNew(t *testing.T) {
	_, err := New(Config{DataCenter: "mars", Fields: map[string]string{"X": "payload.", "Y": "segment"}})
	if err == nil {
		t.Fatal("New accepted an invalid config")
	}
	for _, want := range []string{`data_center: unknown "mars"`, "client_id: required", "client_secret: required",
		"refresh_token: required", "external_id_field: required", `fields["X"]`, `fields["Y"]: unknown template "segment"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	z, err := New(Config{DataCenter: "eu", ClientID: "a", ClientSecret: "b", RefreshToken: "c", ExternalIDField: "Customer_ID"})
	if err != nil {
		t.Fatal(err)
	}
	if z.c.accountsURL != "https://accounts.zoho.eu" || z.c.defaultAPIURL != "https://www.zohoapis.eu" || z.cfg.Module != "Contacts" || z.c.version != "v7" {
		t.Errorf("defaults = %+v module %q", z.c, z.cfg.Module)
	}
}

func batchDeliveries(customers ...string) []*jobs.Delivery {
	var ds []*jobs.Delivery
	for i, c := range customers {
		d := testDelivery(c)
		d.ID = int64(i + 1)
		ds = append(ds, d)
	}
	return ds
}

func upsertedCustomers(t *testing.T, body []byte) []string {
	t.Helper()
	var req struct {
		Data                 []map[string]any `json:"data"`
		DuplicateCheckFields []string         `json:"duplicate_check_fields"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.DuplicateCheckFields) != 1 || req.DuplicateCheckFields[0] != "Customer_ID" {
		t.Errorf("duplicate_check_fields = %v", req.DuplicateCheckFields)
	}
	var out []string
	for _, r := range req.Data {
		out = append(out, fmt.Sprint(r["Customer_ID"]))
	}
	return out
}

func TestDeliverBatchOneRequest(t *testing.T) {
	f, srv := newFakeZoho(t)
	z := mustNew(t, testConfig(srv, &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}))
	var _ jobs.BatchDestination = z
	if z.MaxBatch() != 100 {
		t.Errorf("MaxBatch = %d, want 100", z.MaxBatch())
	}
	f.recordErrors = map[string]string{"c-2": "INVALID_DATA"}
	outs := z.DeliverBatch(context.Background(), batchDeliveries("c-1", "c-2", "c-3"))
	if len(f.upserts) != 1 {
		t.Fatalf("upsert requests = %d, want 1", len(f.upserts))
	}
	if got := strings.Join(upsertedCustomers(t, f.upserts[0]), ","); got != "c-1,c-2,c-3" {
		t.Errorf("records sent = %s, want c-1,c-2,c-3 in order", got)
	}
	if len(outs) != 3 {
		t.Fatalf("outcomes = %d, want 3", len(outs))
	}
	for _, i := range []int{0, 2} {
		if outs[i].Err != nil || outs[i].Status != 200 {
			t.Errorf("outcome %d = %+v, want accepted", i, outs[i])
		}
	}
	if !strings.Contains(outs[2].Response, `"id":"4150868000003"`) || strings.Contains(outs[2].Response, "INVALID_DATA") {
		t.Errorf("outcome 2 response %q, want its own record status", outs[2].Response)
	}
	o := outs[1]
	if o.Err == nil || !o.Permanent || o.Status != 200 ||
		!strings.HasPrefix(o.Err.Error(), "zoho: post Contacts/upsert: http 200: record error: INVALID_DATA: invalid data") {
		t.Errorf("outcome 1 = %+v, want a permanent record error", o)
	}
	if !strings.Contains(o.Response, "INVALID_DATA") || strings.Contains(o.Response, "record updated") {
		t.Errorf("outcome 1 response %q, want its own record status", o.Response)
	}
}

func TestDeliverBatchWholeRequestFailure(t *testing.T) {
	f, srv := newFakeZoho(t)
	z := mustNew(t, testConfig(srv, &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}))
	f.apiStatus, f.apiBody, f.apiHeader = 503, `busy`, http.Header{"Retry-After": {"30"}}
	outs := z.DeliverBatch(context.Background(), batchDeliveries("c-1", "c-2", "c-3"))
	for i, o := range outs {
		if o.Err == nil || o.Permanent || o.Status != 503 || o.RetryAfter != 30*time.Second || o.Response != "busy" ||
			!strings.HasPrefix(o.Err.Error(), "zoho: post Contacts/upsert: http 503") {
			t.Errorf("outcome %d = %+v, want a retryable 503 after 30s", i, o)
		}
	}
}

func TestDeliverBatchRefreshesTokenOnce(t *testing.T) {
	f, srv := newFakeZoho(t)
	z := mustNew(t, testConfig(srv, &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)}))
	if out := z.Deliver(context.Background(), testDelivery("c-0")); out.Err != nil {
		t.Fatal(out.Err)
	}
	f.revokeAll()
	for i, o := range z.DeliverBatch(context.Background(), batchDeliveries("c-1", "c-2")) {
		if o.Err != nil {
			t.Errorf("outcome %d = %+v, want accepted", i, o)
		}
	}
	if n := f.fetches(); n != 2 {
		t.Errorf("token fetches = %d, want 2", n)
	}
}

func TestDeliverBatchTransportFailure(t *testing.T) {
	_, srv := newFakeZoho(t)
	cfg := testConfig(srv, &fakeClock{t: time.Now()})
	srv.Close()
	z := mustNew(t, cfg)
	for i, o := range z.DeliverBatch(context.Background(), batchDeliveries("c-1", "c-2")) {
		if o.Err == nil || o.Permanent || o.Status != 0 {
			t.Errorf("outcome %d = %+v, want a retryable failure", i, o)
		}
	}
}

func TestDeliverBatchMappingErrorLeftOut(t *testing.T) {
	f, srv := newFakeZoho(t)
	z := mustNew(t, testConfig(srv, &fakeClock{t: time.Now()}))
	ds := batchDeliveries("c-1", "c-2", "c-3")
	ds[1].Payload = json.RawMessage(`{"facts":{}}`)
	outs := z.DeliverBatch(context.Background(), ds)
	if len(f.upserts) != 1 {
		t.Fatalf("upsert requests = %d, want 1", len(f.upserts))
	}
	if got := strings.Join(upsertedCustomers(t, f.upserts[0]), ","); got != "c-1,c-3" {
		t.Errorf("records sent = %s, want c-1,c-3", got)
	}
	if o := outs[1]; o.Err == nil || !o.Permanent || o.Status != 0 ||
		o.Err.Error() != `zoho: field "Spend": payload has no "facts.spend"` {
		t.Errorf("outcome 1 = %+v, want a permanent mapping failure", o)
	}
	if outs[0].Err != nil || outs[2].Err != nil {
		t.Errorf("outcomes = %+v, want 0 and 2 accepted", outs)
	}

	// A batch whose every mapping fails sends nothing.
	f.upserts = nil
	ds[0].Payload, ds[2].Payload = ds[1].Payload, ds[1].Payload
	for i, o := range z.DeliverBatch(context.Background(), ds) {
		if o.Err == nil || !o.Permanent {
			t.Errorf("outcome %d = %+v, want a permanent failure", i, o)
		}
	}
	if len(f.upserts) != 0 {
		t.Errorf("upsert requests = %d, want 0", len(f.upserts))
	}
}

func TestDeliverBatchTasks(t *testing.T) {
	f, srv := newFakeZoho(t)
	cfg := testConfig(srv, &fakeClock{t: time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)})
	cfg.Fields = nil
	cfg.Task = &TaskConfig{Actions: []string{"winback_call"}, Subject: "payload.subject"}
	z := mustNew(t, cfg)
	ds := batchDeliveries("c-1", "c-2", "c-3", "c-4", "c-5")
	for i, d := range ds {
		d.Payload = json.RawMessage(fmt.Sprintf(`{"subject":"call %d"}`, i+1))
	}
	ds[1].Action = "vip_care"                                 // no task
	f.recordErrors = map[string]string{"c-3": "INVALID_DATA"} // upsert fails: no task
	f.taskErrors = map[string]bool{"call 5": true}            // task fails
	outs := z.DeliverBatch(context.Background(), ds)
	if len(f.upserts) != 1 || len(f.tasks) != 1 {
		t.Fatalf("upsert requests = %d task requests = %d, want 1 and 1", len(f.upserts), len(f.tasks))
	}
	var req struct {
		Data []struct {
			Subject string            `json:"Subject"`
			WhoID   map[string]string `json:"Who_Id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(f.tasks[0], &req); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range req.Data {
		got = append(got, task.Subject+"->"+task.WhoID["id"])
	}
	if want := "call 1->4150868000001,call 4->4150868000004,call 5->4150868000005"; strings.Join(got, ",") != want {
		t.Errorf("tasks sent = %v, want %s", got, want)
	}
	for _, i := range []int{0, 3} {
		if outs[i].Err != nil || outs[i].Status != 201 {
			t.Errorf("outcome %d = %+v, want accepted with 201", i, outs[i])
		}
	}
	if outs[1].Err != nil || outs[1].Status != 200 {
		t.Errorf("outcome 1 = %+v, want accepted with 200 (no task)", outs[1])
	}
	if o := outs[2]; o.Err == nil || !o.Permanent || !strings.Contains(o.Err.Error(), "post Contacts/upsert") {
		t.Errorf("outcome 2 = %+v, want a permanent upsert record error", o)
	}
	if o := outs[4]; o.Err == nil || !o.Permanent || o.Status != 201 ||
		!strings.HasPrefix(o.Err.Error(), "zoho: create task: post Tasks: http 201: record error: INVALID_DATA") {
		t.Errorf("outcome 4 = %+v, want a permanent task record error", o)
	}

	// A failed Tasks request fails the deliveries with a task, not the others.
	f.recordErrors, f.taskErrors, f.tasks = nil, nil, nil
	f.taskStatus = 500
	outs = z.DeliverBatch(context.Background(), ds[:2])
	if len(f.tasks) != 1 {
		t.Fatalf("task requests = %d, want 1", len(f.tasks))
	}
	if o := outs[0]; o.Err == nil || o.Permanent || o.Status != 500 ||
		!strings.HasPrefix(o.Err.Error(), "zoho: create task: post Tasks: http 500") {
		t.Errorf("outcome 0 = %+v, want a retryable task failure", o)
	}
	if outs[1].Err != nil {
		t.Errorf("outcome 1 = %+v, want accepted (no task)", outs[1])
	}
}

func TestDeliverBatchSecretsAndSplit(t *testing.T) {
	f, srv := newFakeZoho(t)
	z := mustNew(t, testConfig(srv, &fakeClock{t: time.Now()}))
	f.apiStatus = 200
	f.apiBody = `{"data":[{"code":"SUCCESS","details":{"id":"1"},"status":"success"},{"code":"INVALID_DATA","message":"token 1000.access-SECRET-1","details":{"echo":"` + testClientSecret + `"},"status":"error"}]}`
	outs := z.DeliverBatch(context.Background(), batchDeliveries("c-1", "c-2"))
	if outs[0].Err != nil || outs[1].Err == nil {
		t.Fatalf("outcomes = %+v, want the second to fail", outs)
	}
	for i, o := range outs {
		if strings.Contains(o.Response, "SECRET") || (o.Err != nil && strings.Contains(o.Err.Error(), "SECRET")) {
			t.Errorf("outcome %d leaks a secret: %+v", i, o)
		}
	}

	// More than MaxBatch deliveries go in several requests.
	f.upserts = nil
	var customers []string
	for i := range 150 {
		customers = append(customers, fmt.Sprint("c-", i))
	}
	outs = z.DeliverBatch(context.Background(), batchDeliveries(customers...))
	if len(outs) != 150 || len(f.upserts) != 2 || len(upsertedCustomers(t, f.upserts[0])) != 100 {
		t.Errorf("outcomes = %d upsert requests = %d, want 150 and 2 (100 + 50)", len(outs), len(f.upserts))
	}
	for i, o := range outs {
		if o.Err != nil {
			t.Errorf("outcome %d = %+v", i, o)
		}
	}
}
