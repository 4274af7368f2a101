package main

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/rules"
)

// outcomesConfig is serve.outcomes in tierflow.yaml: the bearer token of
// serve's POST /v1/actions/ID/outcome, read from an environment variable
// or a file, never from the config or a flag. With neither set the
// endpoint is off.
//
//	serve:
//	  outcomes:
//	    token_file: /run/secrets/tierflow-outcomes   # or token_env: TIERFLOW_OUTCOMES_TOKEN
type outcomesConfig struct {
	TokenEnv  string // token_env: the variable holding the token(s)
	TokenFile string // token_file: a file holding them, relative to the config

	pos rules.Pos // where it is declared
}

// enabled reports whether the outcome endpoint is configured.
func (oc outcomesConfig) enabled() bool { return oc.TokenEnv != "" || oc.TokenFile != "" }

// minTokenLength is the shortest token serve accepts: a token is a
// password every consumer holds, so it must not be guessable.
const minTokenLength = 16

// outcomes reads serve.outcomes. A literal token is refused without
// being quoted, and so is a token_env that is not a variable's name.
func (r *configReader) outcomes(n *yaml.Node) outcomesConfig {
	const field = "serve.outcomes"
	m, ok := r.Mapping(n, field, "token_env", "token_file", "token")
	if !ok || !present(n) {
		return outcomesConfig{}
	}
	const never = "a token never goes in the config"
	oc := outcomesConfig{pos: r.Pos(n), TokenEnv: r.String(m["token_env"], field+".token_env"), TokenFile: r.String(m["token_file"], field+".token_file")}
	switch {
	case m["token"] != nil:
		r.Errorf(m["token"], field+".token", "put it in an environment variable and name it with token_env, or in a file named by token_file", never)
	case oc.TokenEnv != "" && !envName.MatchString(oc.TokenEnv):
		r.Errorf(m["token_env"], field+".token_env", "set token_env to the name of the environment variable that holds it, such as TIERFLOW_OUTCOMES_TOKEN", "%s; this is not a variable's name", never)
	case oc.TokenEnv != "" && oc.TokenFile != "":
		key := "token_file"
		if later(m["token_env"], m["token_file"]) == m["token_env"] {
			key = "token_env"
		}
		r.Errorf(m[key], field+"."+key, "keep one: token_env names an environment variable, token_file a file holding the token", "token_env and token_file are both set")
	case !oc.enabled():
		r.Errorf(n, field, "name the environment variable (token_env) or the file (token_file) that holds the bearer token, or leave serve.outcomes out to keep the endpoint off",
			"serve.outcomes needs token_env or token_file")
	}
	return oc
}

// outcomeTokens reads the bearer tokens of the outcome endpoint from
// where the config names them: one, or several separated by spaces or
// new lines while rotating. Errors name where they were looked for, never
// what was found.
func (c *config) outcomeTokens(getenv func(string) string) ([]string, error) {
	oc := c.Serve.Outcomes
	const field = "serve.outcomes"
	var raw, where string
	if oc.TokenFile != "" {
		b, err := os.ReadFile(c.relative(oc.TokenFile))
		if err != nil {
			return nil, fmt.Errorf("%s.token_file: %w", field, err)
		}
		raw, where = string(b), oc.TokenFile
	} else {
		raw, where = getenv(oc.TokenEnv), "$"+oc.TokenEnv
	}
	tokens := strings.Fields(raw)
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: %s holds no token: put one there (e.g. the output of openssl rand -hex 32; two, space-separated, while rotating)", field, where)
	}
	for i, t := range tokens {
		if len(t) < minTokenLength {
			return nil, fmt.Errorf("%s: token %d of %s is shorter than %d characters: use a random one (openssl rand -hex 32)", field, i+1, where, minTokenLength)
		}
	}
	return tokens, nil
}
