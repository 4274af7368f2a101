package main

import (
	"strings"
	"testing"
)

// serve.outcomes names where the endpoint's token is kept, the way
// destinations name their secrets: a literal token, a token_env that is
// not a variable's name, both keys or neither are refused, at their
// position, without quoting the value.
func TestOutcomesConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, src, want string }{
		{"literal token", "serve:\n  outcomes: {token: Zq9Wv7Kx_Jm4Yp0123}\n",
			"tierflow.yaml:2:21: serve.outcomes.token: a token never goes in the config (put it in an environment variable and name it with token_env, or in a file named by token_file)"},
		{"token in token_env", "serve:\n  outcomes: {token_env: Zq9Wv7Kx-Jm4Yp0123}\n",
			"tierflow.yaml:2:25: serve.outcomes.token_env: a token never goes in the config; this is not a variable's name (set token_env to the name of the environment variable that holds it, such as TIERFLOW_OUTCOMES_TOKEN)"},
		{"both", "serve:\n  outcomes:\n    token_env: TOKEN\n    token_file: /run/secrets/token\n",
			"tierflow.yaml:4:17: serve.outcomes.token_file: token_env and token_file are both set (keep one: token_env names an environment variable, token_file a file holding the token)"},
		{"neither", "serve:\n  outcomes: {}\n",
			"tierflow.yaml:2:13: serve.outcomes: serve.outcomes needs token_env or token_file (name the environment variable (token_env) or the file (token_file) that holds the bearer token, or leave serve.outcomes out to keep the endpoint off)"},
		{"a token under a typo", "serve:\n  outcomes: {tokn: Zq9Wv7Kx_Jm4Yp0123}\n",
			`serve.outcomes.tokn: unknown key "tokn" (did you mean "token"?)`},
		{"unknown key", "serve:\n  outcomes: {token_fiel: /run/secrets/token}\n",
			`serve.outcomes.token_fiel: unknown key "token_fiel" (did you mean "token_file"?)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := configErrors(t, tt.src).Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got, "Zq9Wv7Kx") {
				t.Errorf("the token was quoted:\n%s", got)
			}
		})
	}
	for _, tt := range []struct {
		src       string
		env, file string
	}{
		{"serve:\n  outcomes: {token_env: TIERFLOW_OUTCOMES_TOKEN}\n", "TIERFLOW_OUTCOMES_TOKEN", ""},
		{"serve:\n  outcomes:\n    token_file: /run/secrets/tierflow-outcomes\n", "", "/run/secrets/tierflow-outcomes"},
		{"serve:\n  outcomes:\n", "", ""},
		{"serve: {listen: 127.0.0.1:9090}\n", "", ""},
	} {
		cfg, err := parseConfig("tierflow.yaml", []byte(tt.src))
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		oc := cfg.Serve.Outcomes
		if oc.TokenEnv != tt.env || oc.TokenFile != tt.file || oc.configured() != (tt.env+tt.file != "") {
			t.Errorf("%s: got %+v", tt.src, oc)
		}
	}
}
