package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Secrets of the CRM tests: none may appear in any output.
const (
	zohoSecret   = "cs-SECRET-zoho-91"
	zohoRefresh  = "1000.refresh-SECRET-zoho"
	fxSecret     = "app-SECRET-fx-52"
	fxPermanent  = "perm-SECRET-fx-77"
	accessPrefix = "access-SECRET-"
)

// crmServer imitates a CRM's token endpoint and record API: token answers
// the token request (given its body), and every other request is recorded
// by path and answered by api.
type crmServer struct {
	mu     sync.Mutex
	bodies map[string][]string // path -> request bodies
	auth   []string            // Authorization headers of API calls
	token  func(body string) (status int, answer string)
	api    func(path string, body []byte) string
	tokens string // the token path
}

func (s *crmServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == s.tokens {
		status, answer := s.token(string(body))
		w.WriteHeader(status)
		io.WriteString(w, answer) //nolint:errcheck
		return
	}
	if s.bodies == nil {
		s.bodies = map[string][]string{}
	}
	s.bodies[r.URL.Path] = append(s.bodies[r.URL.Path], string(body))
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	io.WriteString(w, s.api(r.URL.Path, body)) //nolint:errcheck
}

func (s *crmServer) sent(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[path]
}

// noSecrets fails the test if any secret is in the output of r.
func noSecrets(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, accessPrefix) {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a secret (%.8s...) was printed:\n%s", s, r)
		}
	}
}

// deliver --once delivers vip_welcome to Zoho CRM: the token is fetched
// with the credentials from the environment, the record upserted with
// the mapped fields, and the Task created.
func TestDeliverZoho(t *testing.T) {
	t.Parallel()
	s := &crmServer{tokens: "/oauth/v2/token"}
	s.token = func(body string) (int, string) {
		form, _ := url.ParseQuery(body)
		if form.Get("client_id") != "cid-1" || form.Get("client_secret") != zohoSecret || form.Get("refresh_token") != zohoRefresh {
			return http.StatusOK, `{"error":"invalid_code"}`
		}
		return http.StatusOK, `{"access_token":"1000.` + accessPrefix + `1","token_type":"Bearer","expires_in":3600}`
	}
	s.api = func(path string, _ []byte) string {
		if path == "/crm/v7/Tasks" {
			return `{"data":[{"code":"SUCCESS","details":{"id":"99"},"message":"record added","status":"success"}]}`
		}
		return `{"data":[{"code":"SUCCESS","duplicate_field":"Customer_ID","action":"insert","details":{"id":"4150868000001"},"message":"record added","status":"success"}]}`
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	dest := fmt.Sprintf(`  crm:
    type: zoho
    accounts_url: %[1]s
    api_url: %[1]s
    client_id_env: ZOHO_CLIENT_ID
    client_secret_env: ZOHO_CLIENT_SECRET
    refresh_token_file: zoho_refresh
    external_id_field: Customer_ID
    fields: {Spend: payload.spend, Tier_Source: "=tierflow", Last_Action: action}
    task: {actions: [vip_welcome], subject: "=Welcome call", priority: {default: High}}
`, srv.URL)
	config := deliveryProject(t, "crm", dest)
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "zoho_refresh"), []byte(zohoRefresh+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ZOHO_CLIENT_ID": "cid-1", "ZOHO_CLIENT_SECRET": zohoSecret}

	r := runCLI(t, env, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "1 delivered") {
		t.Errorf("deliver --once:\n%s", r)
	}
	noSecrets(t, r, zohoSecret, zohoRefresh)
	upserts := s.sent("/crm/v7/Contacts/upsert")
	if len(upserts) != 1 {
		t.Fatalf("want one upsert, got %q", upserts)
	}
	var doc struct {
		Data       []map[string]any `json:"data"`
		Duplicates []string         `json:"duplicate_check_fields"`
	}
	if err := json.Unmarshal([]byte(upserts[0]), &doc); err != nil || len(doc.Data) != 1 {
		t.Fatalf("upsert body %s: %v", upserts[0], err)
	}
	rec := doc.Data[0]
	if rec["Customer_ID"] != "1" || rec["Spend"] != float64(1500) || rec["Tier_Source"] != "tierflow" || rec["Last_Action"] != "vip_welcome" ||
		len(doc.Duplicates) != 1 || doc.Duplicates[0] != "Customer_ID" {
		t.Errorf("upsert body: %s", upserts[0])
	}
	if tasks := s.sent("/crm/v7/Tasks"); len(tasks) != 1 || !strings.Contains(tasks[0], `"Welcome call"`) || !strings.Contains(tasks[0], `"High"`) {
		t.Errorf("tasks: %q", tasks)
	}
	for _, a := range s.auth {
		if a != "Zoho-oauthtoken 1000."+accessPrefix+"1" {
			t.Errorf("API call with Authorization %q", a)
		}
	}

	// An unset variable is named, and nothing is delivered.
	r = runCLI(t, map[string]string{"ZOHO_CLIENT_ID": "cid-1"}, "deliver", "--once", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "destinations.crm: $ZOHO_CLIENT_SECRET holds no client_secret") {
		t.Errorf("deliver without the client secret:\n%s", r)
	}
	noSecrets(t, r, zohoSecret, zohoRefresh)
}

// deliver --once delivers vip_welcome to Fxiaoke: the token is fetched
// with the credentials from the environment, the record found by
// match_field and updated with the mapped fields.
func TestDeliverFxiaoke(t *testing.T) {
	t.Parallel()
	s := &crmServer{tokens: "/cgi/corpAccessToken/get/V2"}
	s.token = func(body string) (int, string) {
		var req map[string]string
		_ = json.Unmarshal([]byte(body), &req)
		if req["appId"] != "FSAID_1" || req["appSecret"] != fxSecret || req["permanentCode"] != fxPermanent {
			return http.StatusOK, `{"errorCode":20001,"errorMessage":"appId or appSecret is wrong"}`
		}
		return http.StatusOK, `{"errorCode":0,"errorMessage":"success","corpAccessToken":"` + accessPrefix + `fx","corpId":"FSCID_9","expiresIn":7200}`
	}
	s.api = func(path string, body []byte) string {
		if !strings.Contains(string(body), accessPrefix+"fx") || !strings.Contains(string(body), `"FSUID_1"`) {
			return `{"errorCode":20016,"errorMessage":"corpAccessToken is invalid"}`
		}
		if strings.HasSuffix(path, "/data/query") {
			return `{"errorCode":0,"errorMessage":"OK","data":{"dataList":[{"_id":"65f0aa01"}],"total":1}}`
		}
		return `{"errorCode":0,"errorMessage":"OK","dataId":"65f0aa01"}`
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	dest := fmt.Sprintf(`  crm:
    type: fxiaoke
    base_url: %s
    app_id_env: FX_APP_ID
    app_secret_env: FX_APP_SECRET
    permanent_code_env: FX_PERMANENT_CODE
    current_open_user_id: FSUID_1
    match_field: external_id__c
    fields: {spend__c: payload.spend, tier_source__c: "=tierflow"}
    token_error_codes: [20016]
`, srv.URL)
	config := deliveryProject(t, "crm", dest)
	env := map[string]string{"FX_APP_ID": "FSAID_1", "FX_APP_SECRET": fxSecret, "FX_PERMANENT_CODE": fxPermanent}

	r := runCLI(t, env, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "1 delivered") {
		t.Errorf("deliver --once:\n%s", r)
	}
	noSecrets(t, r, fxSecret, fxPermanent)
	if q := s.sent("/cgi/crm/v2/data/query"); len(q) != 1 || !strings.Contains(q[0], `"external_id__c"`) {
		t.Errorf("queries: %q", q)
	}
	updates := s.sent("/cgi/crm/v2/data/update")
	if len(updates) != 1 {
		t.Fatalf("want one update, got %q", updates)
	}
	var doc struct {
		Data struct {
			ObjectData map[string]any `json:"object_data"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(updates[0]), &doc); err != nil {
		t.Fatal(err)
	}
	od := doc.Data.ObjectData
	if od["_id"] != "65f0aa01" || od["dataObjectApiName"] != "AccountObj" || od["spend__c"] != float64(1500) || od["tier_source__c"] != "tierflow" {
		t.Errorf("update body: %s", updates[0])
	}
}
