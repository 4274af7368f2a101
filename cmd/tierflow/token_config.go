package main

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/rules"
)

// tokenConfig is where serve reads the bearer tokens of one of its HTTP
// endpoints (serve.outcomes, serve.report in tierflow.yaml): an
// environment variable or a file, never the config or a flag.
//
//	serve:
//	  outcomes:
//	    token_file: /run/secrets/tierflow-outcomes   # or token_env: TIERFLOW_OUTCOMES_TOKEN
type tokenConfig struct {
	TokenEnv  string // token_env: the variable holding the token(s)
	TokenFile string // token_file: a file holding them, relative to the config

	field string    // serve.outcomes or serve.report, for messages
	pos   rules.Pos // where it is declared
}

// configured reports whether the config names where the tokens are.
func (tc tokenConfig) configured() bool { return tc.TokenEnv != "" || tc.TokenFile != "" }

// from says where the tokens are read from, for logs: a file or $VAR.
func (tc tokenConfig) from() string {
	if tc.TokenFile != "" {
		return tc.TokenFile
	}
	return "$" + tc.TokenEnv
}

// minTokenLength is the shortest token serve accepts: a token is a
// password every consumer holds, so it must not be guessable.
const minTokenLength = 16

// tokenConfig reads field (serve.outcomes or serve.report). A literal
// token is refused without being quoted, and so is a token_env that is
// not a variable's name. exampleEnv is the variable the hints suggest,
// off what leaving field out does.
func (r *configReader) tokenConfig(n *yaml.Node, field, exampleEnv, off string) tokenConfig {
	m, ok := r.Mapping(n, field, "token_env", "token_file", "token")
	if !ok || !present(n) {
		return tokenConfig{}
	}
	const never = "a token never goes in the config"
	tc := tokenConfig{field: field, pos: r.Pos(n), TokenEnv: r.String(m["token_env"], field+".token_env"), TokenFile: r.String(m["token_file"], field+".token_file")}
	switch {
	case m["token"] != nil:
		r.Errorf(m["token"], field+".token", "put it in an environment variable and name it with token_env, or in a file named by token_file", never)
	case tc.TokenEnv != "" && !envName.MatchString(tc.TokenEnv):
		r.Errorf(m["token_env"], field+".token_env", "set token_env to the name of the environment variable that holds it, such as "+exampleEnv, "%s; this is not a variable's name", never)
	case tc.TokenEnv != "" && tc.TokenFile != "":
		key := "token_file"
		if later(m["token_env"], m["token_file"]) == m["token_env"] {
			key = "token_env"
		}
		r.Errorf(m[key], field+"."+key, "keep one: token_env names an environment variable, token_file a file holding the token", "token_env and token_file are both set")
	case !tc.configured():
		r.Errorf(n, field, "name the environment variable (token_env) or the file (token_file) that holds the bearer token, or leave "+field+" out "+off,
			"%s needs token_env or token_file", field)
	}
	return tc
}

// tokens reads the bearer tokens tc names: one, or several separated by
// spaces or new lines while rotating. Errors name where they were looked
// for, never what was found.
func (c *config) tokens(tc tokenConfig, getenv func(string) string) ([]string, error) {
	raw := getenv(tc.TokenEnv)
	if tc.TokenFile != "" {
		b, err := os.ReadFile(c.relative(tc.TokenFile))
		if err != nil {
			return nil, fmt.Errorf("%s.token_file: %w", tc.field, err)
		}
		raw = string(b)
	}
	tokens := strings.Fields(raw)
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: %s holds no token: put one there (e.g. the output of openssl rand -hex 32; two, space-separated, while rotating)", tc.field, tc.from())
	}
	for i, t := range tokens {
		if len(t) < minTokenLength {
			return nil, fmt.Errorf("%s: token %d of %s is shorter than %d characters: use a random one (openssl rand -hex 32)", tc.field, i+1, tc.from(), minTokenLength)
		}
	}
	return tokens, nil
}
