package main

import (
	"strings"
	"testing"
	"time"
)

// Every mistake in destinations: and delivery: is reported at its
// position, with a hint, and a secret written into the config is refused.
func TestDestinationConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"no type", "destinations:\n  hook: {url: https://x.example/h, secret_env: S}\n",
			"tierflow.yaml:2:3: destinations.hook: a destination needs type (write type: webhook, file, zoho or fxiaoke)"},
		{"unknown type", "destinations:\n  hook: {type: webhok, url: https://x.example/h, secret_env: S}\n",
			`tierflow.yaml:2:16: destinations.hook.type: unknown destination type "webhok" (did you mean "webhook"?)`},
		{"key of another type", "destinations:\n  out: {type: file, path: a.jsonl, url: https://x.example}\n",
			`tierflow.yaml:2:36: destinations.out.url: unknown key "url"`},
		{"secret in the config", "destinations:\n  hook: {type: webhook, url: https://x.example/h, secret_env: whsec_abc}\n",
			"destinations.hook.secret_env: a signing secret never goes in the config (set secret_env to the name of the environment variable"},
		{"secret key", "destinations:\n  hook: {type: webhook, url: https://x.example/h, secret: whsec_abc}\n",
			"tierflow.yaml:2:59: destinations.hook.secret: a signing secret never goes in the config (put it in an environment variable and name it with secret_env"},
		{"no secret", "destinations:\n  hook: {type: webhook, url: https://x.example/h}\n",
			"tierflow.yaml:2:3: destinations.hook: a webhook destination needs secret_env or secret_file"},
		{"both secrets", "destinations:\n  hook: {type: webhook, url: https://x.example/h, secret_env: S, secret_file: s.txt}\n",
			"destinations.hook.secret_file: secret_env and secret_file are both set"},
		{"no url", "destinations:\n  hook: {type: webhook, secret_env: S}\n",
			`destinations.hook.url: "url" is required (write the receiver's URL`},
		{"bad url", "destinations:\n  hook: {type: webhook, url: ftp://x.example, secret_env: S}\n",
			`destinations.hook.url: "ftp://x.example" is not an http or https URL`},
		{"no path", "destinations:\n  out: {type: file}\n",
			`destinations.out.path: "path" is required (name the JSON Lines file`},
		{"bad rate", "destinations:\n  out: {type: file, path: a.jsonl, rate: fast}\n",
			`destinations.out.rate: "fast" is not a rate`},
		{"negative concurrency", "destinations:\n  out: {type: file, path: a.jsonl, concurrency: -1}\n",
			"destinations.out.concurrency: must be 0 (no cap of its own) or more"},
		{"bad name", "destinations:\n  Hook-1: {type: file, path: a.jsonl}\n",
			"destinations.Hook-1"},
		{"delivery typo", "delivery: {max_attempt: 3}\n",
			`delivery.max_attempt: unknown key "max_attempt" (did you mean "max_attempts"?)`},
		{"lease too short", "delivery: {lease: 30s, timeout: 20s}\n",
			"delivery.lease: lease 30s is not longer than twice timeout 20s"},
		{"zero attempts", "delivery: {max_attempts: 0}\n",
			"delivery.max_attempts: must be 1 or more"},
		{"backoff order", "delivery: {base_backoff: 2h, max_backoff: 1h}\n",
			"delivery.base_backoff: base_backoff 2h0m0s is longer than max_backoff 1h0m0s"},
		{"serve deliver", "serve: {deliver: maybe}\n",
			"serve.deliver"},
		{"zoho literal secret", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret: whsec_abc, refresh_token_env: RT, external_id_field: X}\n",
			"tierflow.yaml:2:55: destinations.crm.client_secret: a credential never goes in the config (put it in an environment variable and name it with client_secret_env"},
		{"zoho secret as a variable name", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret_env: whsec_abc.1, refresh_token_env: RT, external_id_field: X}\n",
			"tierflow.yaml:2:59: destinations.crm.client_secret_env: a credential never goes in the config; this is not a variable's name"},
		{"zoho no credential", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret_env: CS, external_id_field: X}\n",
			"tierflow.yaml:2:3: destinations.crm: a zoho destination needs refresh_token_env or refresh_token_file"},
		{"zoho both", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret_env: CS, refresh_token_env: RT, refresh_token_file: rt, external_id_field: X}\n",
			"tierflow.yaml:2:106: destinations.crm.refresh_token_file: refresh_token_env and refresh_token_file are both set"},
		{"zoho no external id", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret_env: CS, refresh_token_env: RT}\n",
			`tierflow.yaml:2:3: destinations.crm.external_id_field: "external_id_field" is required`},
		{"zoho bad template", "destinations:\n  crm:\n    type: zoho\n    client_id_env: ID\n    client_secret_env: CS\n    refresh_token_env: RT\n    external_id_field: X\n    fields: {Tier: segmnt}\n",
			`tierflow.yaml:2:3: destinations.crm: zoho: fields["Tier"]`},
		{"zoho bad data centre", "destinations:\n  crm: {type: zoho, data_center: mars, client_id_env: ID, client_secret_env: CS, refresh_token_env: RT, external_id_field: X}\n",
			`tierflow.yaml:2:3: destinations.crm: zoho: data_center: unknown "mars"`},
		{"zoho bad priority", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret_env: CS, refresh_token_env: RT, external_id_field: X, task: {priority: {top: High}}}\n",
			`destinations.crm.task.priority.top: "top" is not a priority`},
		{"zoho task typo", "destinations:\n  crm: {type: zoho, client_id_env: ID, client_secret_env: CS, refresh_token_env: RT, external_id_field: X, task: {subjet: x}}\n",
			`destinations.crm.task.subjet: unknown key "subjet" (did you mean "subject"?)`},
		{"fxiaoke literal secret", "destinations:\n  crm: {type: fxiaoke, app_id_env: A, app_secret_env: S, permanent_code: whsec_abc, current_open_user_id: U, fields: {a: customer}}\n",
			"tierflow.yaml:2:74: destinations.crm.permanent_code: a credential never goes in the config"},
		{"fxiaoke no user", "destinations:\n  crm: {type: fxiaoke, app_id_env: A, app_secret_env: S, permanent_code_env: P, fields: {a: customer}}\n",
			`destinations.crm.current_open_user_id: "current_open_user_id" is required`},
		{"fxiaoke no fields", "destinations:\n  crm: {type: fxiaoke, app_id_env: A, app_secret_env: S, permanent_code_env: P, current_open_user_id: U}\n",
			"tierflow.yaml:2:3: destinations.crm: fxiaoke: fields: required unless follow_up is set"},
		{"fxiaoke follow-up template", "destinations:\n  crm: {type: fxiaoke, app_id_env: A, app_secret_env: S, permanent_code_env: P, current_open_user_id: U, follow_up: {object: f__c, link_field: l__c, fields: {name: acton}}}\n",
			`tierflow.yaml:2:3: destinations.crm: fxiaoke: follow_up.fields["name"]`},
		{"fxiaoke bad code", "destinations:\n  crm: {type: fxiaoke, app_id_env: A, app_secret_env: S, permanent_code_env: P, current_open_user_id: U, fields: {a: customer}, token_error_codes: [x]}\n",
			"destinations.crm.token_error_codes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := configErrors(t, tt.src).Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("errors lack %q:\n%s", tt.want, got)
			}
			if strings.Contains(got, "whsec_abc") {
				t.Errorf("a secret was quoted:\n%s", got)
			}
		})
	}
}

// A complete destinations: and delivery: section reads into the config.
func TestDestinationConfig(t *testing.T) {
	t.Parallel()
	src := `destinations:
  crm_hook:
    type: webhook
    url: https://example.com/tierflow
    secret_file: secrets/hook
    timeout: 10s
    headers: {X-Team: growth}
    headers_env: {Authorization: CRM_AUTH}
    concurrency: 4
    rate: 2.5
  export:
    type: file
    path: "-"
delivery: {concurrency: 16, lease: 10m, timeout: 1m, max_attempts: 5, max_age: 2d, base_backoff: 10s, max_backoff: 30m}
serve: {deliver: false}
`
	cfg, err := parseConfig("dir/tierflow.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Destinations["crm_hook"]
	if h.Type != "webhook" || h.URL != "https://example.com/tierflow" || h.SecretFile != "secrets/hook" || h.Timeout != 10*time.Second ||
		h.Headers["X-Team"] != "growth" || h.HeadersEnv["Authorization"] != "CRM_AUTH" || h.Concurrency != 4 || h.Rate != 2.5 {
		t.Errorf("crm_hook: %+v", h)
	}
	if e := cfg.Destinations["export"]; e.Type != "file" || e.Path != "-" {
		t.Errorf("export: %+v", e)
	}
	d := cfg.Delivery
	if d.Concurrency != 16 || d.lease() != 10*time.Minute || d.timeout() != time.Minute || d.MaxAttempts != 5 ||
		d.MaxAge != 48*time.Hour || d.BaseBackoff != 10*time.Second || d.MaxBackoff != 30*time.Minute {
		t.Errorf("delivery: %+v", d)
	}
	if cfg.Serve.delivers(cfg) {
		t.Error("serve.deliver: false, and serve would deliver")
	}
	cfg.Serve.Deliver = nil
	if !cfg.Serve.delivers(cfg) {
		t.Error("destinations are configured, and serve would not deliver by default")
	}
	headers, err := cfg.webhookHeaders(func(k string) string { return map[string]string{"CRM_AUTH": "Bearer t0k"}[k] }, "crm_hook", h)
	if err != nil || headers["Authorization"] != "Bearer t0k" || headers["X-Team"] != "growth" {
		t.Errorf("headers %v, %v", headers, err)
	}
	if _, err := cfg.webhookHeaders(func(string) string { return "" }, "crm_hook", h); err == nil || !strings.Contains(err.Error(), "$CRM_AUTH is not set") {
		t.Errorf("headers_env with the variable unset: %v", err)
	}
}

// The config examples of docs/delivery.md parse, and declare what they
// show.
func TestDeliveryDocsExamples(t *testing.T) {
	t.Parallel()
	found := 0
	for _, b := range codeBlocks(t, "../../docs/delivery.md", "yaml") {
		if !strings.Contains(b, "destinations:") && !strings.HasPrefix(b, "delivery:") {
			continue
		}
		found++
		cfg, err := parseConfig("tierflow.yaml", []byte(b))
		if err != nil {
			t.Errorf("a config example does not parse:\n%v\n%s", err, b)
			continue
		}
		if strings.Contains(b, "destinations:") && len(cfg.Destinations) == 0 {
			t.Errorf("an example declares no destination:\n%s", b)
		}
	}
	if found != 5 {
		t.Errorf("found %d config examples in docs/delivery.md, want 5 (webhook, file, zoho, fxiaoke, delivery)", found)
	}
}
