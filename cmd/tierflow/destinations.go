package main

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/fxiaoke"
	"github.com/tierflow/tierflow/jobs/destinations/zoho"
	"github.com/tierflow/tierflow/rules"
)

// destinationConfig is one entry under destinations: in tierflow.yaml,
// a place tierflow delivers actions to. Actions name it with deliver_to.
// Secrets are never in it: only the names of the environment variables
// or the files that hold them (secret_env, secret_file, headers_env).
//
//	destinations:
//	  crm_hook:
//	    type: webhook
//	    url: https://example.com/tierflow
//	    secret_env: TIERFLOW_WEBHOOK_SECRET   # whsec_...; several, space-separated, to rotate
//	    timeout: 15s
//	    headers: {X-Team: growth}
//	    headers_env: {Authorization: CRM_AUTH_HEADER}
//	    concurrency: 4
//	    rate: 50        # deliveries started per second
//	  export:
//	    type: file
//	    path: out/actions.jsonl    # relative to the config; "-" is stdout
type destinationConfig struct {
	Type string // type: webhook or file

	// webhook
	URL        string            // url
	SecretEnv  string            // secret_env: the variable holding the signing secret(s)
	SecretFile string            // secret_file: a file holding them
	Timeout    time.Duration     // timeout; 0: the destination's default
	Headers    map[string]string // headers: literal, non-secret values
	HeadersEnv map[string]string // headers_env: header -> variable holding its value

	// file
	Path string // path, relative to the config's directory; "-" is stdout
	Sync bool   // fsync: true: a line counts as delivered once it is on disk

	// SyncSegmentations is sync: [value_tier, ...]: the segmentations
	// whose every move the destination receives (jobs.Options.Sync), each
	// declared at syncPos.
	SyncSegmentations []string
	syncPos           []rules.Pos

	// zoho, fxiaoke: the connector's config without its credentials,
	// which Secrets names (credential -> where it is kept).
	Zoho    *zoho.Config
	Fxiaoke *fxiaoke.Config
	Secrets map[string]secretRef

	Concurrency int     // concurrency: deliveries in flight at once; 0: no cap of its own
	Rate        float64 // rate: deliveries started per second; 0: no limit

	pos rules.Pos // where it is declared
}

// deliveryConfig is delivery: in tierflow.yaml, how the delivery worker
// of tierflow deliver (and tierflow serve) runs.
type deliveryConfig struct {
	Concurrency int           // concurrency: deliveries in flight at once; default 8
	Lease       time.Duration // lease: how long a claim is a worker's; default 5m
	Timeout     time.Duration // timeout: one attempt; default 30s
	MaxAttempts int           // max_attempts: then dead; default 10
	MaxAge      time.Duration // max_age: after queueing, then dead; default 72h
	BaseBackoff time.Duration // base_backoff: the wait after the first failure; default 30s
	MaxBackoff  time.Duration // max_backoff: the longest wait; default 1h
}

// destinationTypes are the types of destination this build delivers to.
var destinationTypes = []string{"webhook", "file", "zoho", "fxiaoke"}

// The keys of a destination: those every type has, then each type's.
var (
	destinationCommonKeys = []string{"type", "concurrency", "rate", "sync"}
	destinationTypeKeys   = map[string][]string{
		// secret is refused with its own message: the secret goes in
		// the environment or a file.
		"webhook": {"url", "secret_env", "secret_file", "secret", "timeout", "headers", "headers_env"},
		"file":    {"path", "fsync"},
		"zoho": append(credentialKeys(zohoCredentials), "data_center", "accounts_url", "api_url", "api_version",
			"module", "external_id_field", "fields", "task", "timeout"),
		"fxiaoke": append(credentialKeys(fxiaokeCredentials), "base_url", "current_open_user_id", "object",
			"match_field", "fields", "follow_up", "token_error_codes", "min_token_interval", "timeout"),
	}
)

// destinationKeys are the keys allowed for a destination of type t (all
// of them when t is not a known type).
func destinationKeys(t string) []string {
	keys := slices.Clone(destinationCommonKeys)
	if own, ok := destinationTypeKeys[t]; ok {
		return append(keys, own...)
	}
	for _, name := range destinationTypes {
		keys = append(keys, destinationTypeKeys[name]...)
	}
	return keys
}

// destinations reads destinations:, a mapping of name to destination.
func (r *configReader) destinations(n *yaml.Node) map[string]destinationConfig {
	entries := r.Entries(n, "destinations")
	if len(entries) == 0 {
		return nil
	}
	out := make(map[string]destinationConfig, len(entries))
	for _, e := range entries {
		field := "destinations." + e.Key
		if r.Name(e.KeyNode, field) == "" {
			continue
		}
		out[e.Key] = r.destination(e, field)
	}
	return out
}

func (r *configReader) destination(e rules.Entry, field string) destinationConfig {
	dc := destinationConfig{pos: r.Pos(e.KeyNode)}
	if e.Value == nil || e.Value.Kind != yaml.MappingNode {
		r.Errorf(e.Value, field, "write a mapping such as {type: webhook, url: https://example.com/hook, secret_env: HOOK_SECRET}", "a destination must be a mapping")
		return dc
	}
	tn := valueOf(e.Value, "type")
	if tn != nil {
		dc.Type = r.String(tn, field+".type")
	}
	m, _ := r.Mapping(e.Value, field, destinationKeys(dc.Type)...)
	switch {
	case tn == nil:
		r.Errorf(e.KeyNode, field, "write type: webhook, file, zoho or fxiaoke", "a destination needs type")
	case !slices.Contains(destinationTypes, dc.Type):
		r.Errorf(tn, field+".type", nearOr(dc.Type, destinationTypes, "write type: webhook, file, zoho or fxiaoke"), "unknown destination type %q", dc.Type)
	}
	if v, ok := r.Int(m["concurrency"], field+".concurrency"); ok {
		if v < 0 {
			r.Errorf(m["concurrency"], field+".concurrency", "write how many deliveries may be in flight at once, or leave concurrency out", "must be 0 (no cap of its own) or more")
		}
		dc.Concurrency = v
	}
	dc.Rate = r.rate(m["rate"], field+".rate")
	if n := m["sync"]; n != nil {
		r.syncList(n, field+".sync", &dc)
	}
	switch dc.Type {
	case "webhook":
		r.webhook(e, m, field, &dc)
	case "file":
		if r.Required(m, e.KeyNode, field, "path", `name the JSON Lines file, relative to this config file, or "-" for stdout`) != nil {
			dc.Path = r.nonEmpty(m["path"], field+".path", `name the JSON Lines file, relative to this config file, or "-" for stdout`)
		}
		dc.Sync = r.Bool(m["fsync"], field+".fsync")
	case "zoho":
		r.zoho(e, m, field, &dc)
	case "fxiaoke":
		r.fxiaoke(e, m, field, &dc)
	}
	return dc
}

// syncList reads sync: a list of segmentation names (or one name), whose
// every move the destination receives. checkDeliverTo checks the names
// against the rule files.
func (r *configReader) syncList(n *yaml.Node, field string, dc *destinationConfig) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = r.List(n, field)
	}
	for _, item := range items {
		name := r.String(item, field)
		if name == "" {
			continue
		}
		if slices.Contains(dc.SyncSegmentations, name) {
			r.Errorf(item, field, "list each segmentation once", "segmentation %q is listed twice", name)
			continue
		}
		dc.SyncSegmentations = append(dc.SyncSegmentations, name)
		dc.syncPos = append(dc.syncPos, r.Pos(item))
	}
}

// syncMap is jobs.Options.Sync: segmentation -> the destinations whose
// sync: lists it, sorted; nil when none does.
func (c *config) syncMap() map[string][]string {
	var out map[string][]string
	for _, name := range c.destinationNames() {
		for _, seg := range c.Destinations[name].SyncSegmentations {
			if out == nil {
				out = map[string][]string{}
			}
			out[seg] = append(out[seg], name)
		}
	}
	return out
}

// webhook reads the keys of a webhook destination.
func (r *configReader) webhook(e rules.Entry, m map[string]*yaml.Node, field string, dc *destinationConfig) {
	if r.Required(m, e.KeyNode, field, "url", "write the receiver's URL, e.g. url: https://example.com/tierflow") != nil {
		dc.URL = r.nonEmpty(m["url"], field+".url", "write the receiver's URL, e.g. url: https://example.com/tierflow")
		if dc.URL != "" && !strings.HasPrefix(dc.URL, "https://") && !strings.HasPrefix(dc.URL, "http://") {
			r.Errorf(m["url"], field+".url", "write an http:// or https:// URL", "%q is not an http or https URL", dc.URL)
		}
	}
	dc.SecretEnv = r.String(m["secret_env"], field+".secret_env")
	dc.SecretFile = r.String(m["secret_file"], field+".secret_file")
	const never = "a signing secret never goes in the config"
	switch {
	case m["secret"] != nil:
		r.Errorf(m["secret"], field+".secret", "put it in an environment variable and name it with secret_env, or in a file named by secret_file", never)
	case strings.HasPrefix(dc.SecretEnv, "whsec_"):
		r.Errorf(m["secret_env"], field+".secret_env", "set secret_env to the name of the environment variable that holds it, such as TIERFLOW_WEBHOOK_SECRET", never)
	case strings.HasPrefix(dc.SecretFile, "whsec_"):
		r.Errorf(m["secret_file"], field+".secret_file", "put the secret in a file and set secret_file to the file's path", never)
	case dc.SecretEnv != "" && dc.SecretFile != "":
		key := "secret_file"
		if later(m["secret_env"], m["secret_file"]) == m["secret_env"] {
			key = "secret_env"
		}
		r.Errorf(m[key], field+"."+key, "keep one: secret_env names an environment variable, secret_file a file holding the secret", "secret_env and secret_file are both set")
	case dc.SecretEnv == "" && dc.SecretFile == "":
		r.Errorf(e.KeyNode, field, "name the environment variable (secret_env) or the file (secret_file) that holds the whsec_... signing secret",
			"a webhook destination needs secret_env or secret_file")
	}
	if d := r.duration(m["timeout"], field+".timeout"); d != "" {
		dc.Timeout, _ = rules.ParseDuration(d)
	}
	dc.Headers = r.stringMap(m["headers"], field+".headers")
	dc.HeadersEnv = r.stringMap(m["headers_env"], field+".headers_env")
	for name := range dc.HeadersEnv {
		if _, dup := dc.Headers[name]; dup {
			r.Errorf(m["headers_env"], field+".headers_env."+name, "set a header in headers or in headers_env, not both", "header %s is set twice", name)
		}
	}
}

// stringMap reads a mapping of strings to strings.
func (r *configReader) stringMap(n *yaml.Node, field string) map[string]string {
	entries := r.Entries(n, field)
	if len(entries) == 0 {
		return nil
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		out[e.Key] = r.String(e.Value, field+"."+e.Key)
	}
	return out
}

// rate reads a number of deliveries a second, 0 or more.
func (r *configReader) rate(n *yaml.Node, field string) float64 {
	s := r.String(n, field)
	if s == "" {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1e6 {
		r.Errorf(n, field, "write how many deliveries may start per second, e.g. rate: 10 or rate: 0.5", "%q is not a rate", s)
		return 0
	}
	return v
}

// valueOf returns the value of key in mapping n, nil when it has none.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// delivery reads delivery:.
func (r *configReader) delivery(n *yaml.Node) deliveryConfig {
	m, _ := r.Mapping(n, "delivery", "concurrency", "lease", "timeout", "max_attempts", "max_age", "base_backoff", "max_backoff")
	var dc deliveryConfig
	if v, ok := r.Int(m["concurrency"], "delivery.concurrency"); ok {
		if v < 1 {
			r.Errorf(m["concurrency"], "delivery.concurrency", "write how many deliveries may be in flight at once; the default is 8", "must be 1 or more")
		}
		dc.Concurrency = v
	}
	if v, ok := r.Int(m["max_attempts"], "delivery.max_attempts"); ok {
		if v < 1 {
			r.Errorf(m["max_attempts"], "delivery.max_attempts", "write how many attempts an action gets before it is dead; the default is 10", "must be 1 or more")
		}
		dc.MaxAttempts = v
	}
	for key, d := range map[string]*time.Duration{
		"lease": &dc.Lease, "timeout": &dc.Timeout, "max_age": &dc.MaxAge, "base_backoff": &dc.BaseBackoff, "max_backoff": &dc.MaxBackoff,
	} {
		if s := r.duration(m[key], "delivery."+key); s != "" {
			*d, _ = rules.ParseDuration(s)
			if *d <= 0 {
				r.Errorf(m[key], "delivery."+key, "write a duration such as 30s, 5m or 2h, or leave "+key+" out for the default", "must be longer than 0")
			}
		}
	}
	lease, timeout := dc.lease(), dc.timeout()
	if m["lease"] != nil || m["timeout"] != nil {
		if lease <= 2*timeout {
			at := m["lease"]
			if at == nil {
				at = m["timeout"]
			}
			r.Errorf(at, "delivery.lease", "a claim is not renewed: make lease longer than twice timeout, e.g. lease: 5m with timeout: 30s",
				"lease %s is not longer than twice timeout %s", lease, timeout)
		}
	}
	if dc.BaseBackoff > 0 && dc.MaxBackoff > 0 && dc.BaseBackoff > dc.MaxBackoff {
		r.Errorf(m["base_backoff"], "delivery.base_backoff", "make base_backoff the first wait and max_backoff the longest", "base_backoff %s is longer than max_backoff %s", dc.BaseBackoff, dc.MaxBackoff)
	}
	return dc
}

func (dc deliveryConfig) lease() time.Duration {
	if dc.Lease > 0 {
		return dc.Lease
	}
	return 5 * time.Minute
}

func (dc deliveryConfig) timeout() time.Duration {
	if dc.Timeout > 0 {
		return dc.Timeout
	}
	return 30 * time.Second
}

// retryPolicy is the worker's retry policy; zero fields take jobs'
// defaults.
func (dc deliveryConfig) retryPolicy() jobs.RetryPolicy {
	return jobs.RetryPolicy{Base: dc.BaseBackoff, Max: dc.MaxBackoff, MaxAttempts: dc.MaxAttempts, MaxAge: dc.MaxAge}
}

// destinationNames are the configured destinations' names, sorted.
func (c *config) destinationNames() []string {
	return slices.Sorted(maps.Keys(c.Destinations))
}

// webhookSecrets reads a webhook destination's signing secrets from its
// variable or file: whsec_ values separated by spaces or new lines (two
// during a key rotation). Errors name where they were looked for, never
// what was found.
func (c *config) webhookSecrets(getenv func(string) string, name string, dc destinationConfig) ([]string, error) {
	field := "destinations." + name
	var raw string
	if dc.SecretFile != "" {
		b, err := os.ReadFile(c.relative(dc.SecretFile))
		if err != nil {
			return nil, fmt.Errorf("%s.secret_file: %w", field, err)
		}
		raw = string(b)
	} else {
		raw = getenv(dc.SecretEnv)
	}
	secrets := strings.Fields(raw)
	if len(secrets) == 0 {
		where := "$" + dc.SecretEnv
		if dc.SecretFile != "" {
			where = dc.SecretFile
		}
		return nil, fmt.Errorf("%s: %s holds no signing secret: put one whsec_... secret there (two, space-separated, while rotating keys)", field, where)
	}
	return secrets, nil
}

// webhookHeaders are a webhook destination's headers, those from the
// environment included. A variable headers_env names must be set.
func (c *config) webhookHeaders(getenv func(string) string, name string, dc destinationConfig) (map[string]string, error) {
	out := maps.Clone(dc.Headers)
	if out == nil {
		out = map[string]string{}
	}
	for header, env := range dc.HeadersEnv {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return nil, fmt.Errorf("destinations.%s.headers_env.%s: $%s is not set", name, header, env)
		}
		out[header] = v
	}
	return out, nil
}

// checkDeliverTo reports, positioned in the rule files, every action
// whose deliver_to names no destination declared in the config, in each
// rule set the config lists, and, positioned in the config, every
// segmentation a destination's sync: names that no rule set declares.
// It reads the rule files' actions and segmentation names only, so it
// needs no facts source; a file that cannot be read is left to the
// commands that compile it.
func (c *config) checkDeliverTo() rules.ErrorList {
	names := c.destinationNames()
	var out rules.ErrorList
	var segs []string
	unread := false
	for _, r := range c.RuleSets {
		path := c.rulesPath(r)
		src, err := readRuleFile(path)
		if err != nil {
			unread = true
			continue
		}
		d := rules.ParseDocument(path, src)
		root := d.Root()
		if root == nil || root.Kind != yaml.MappingNode {
			unread = true
			continue
		}
		segs = append(segs, segmentationNames(root)...)
		acts := valueOf(root, "actions")
		if acts == nil || acts.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range acts.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			to, name := valueOf(item, "deliver_to"), valueOf(item, "name")
			if to == nil || to.Value == "" || name == nil {
				continue
			}
			if _, ok := c.Destinations[to.Value]; ok {
				continue
			}
			hint := "declare it under destinations: in tierflow.yaml, e.g. " + to.Value + ": {type: webhook, url: https://example.com/hook, secret_env: HOOK_SECRET}"
			if len(names) > 0 {
				hint = nearOr(to.Value, names, "declare it under destinations: in tierflow.yaml, or use one of "+strings.Join(names, ", "))
			}
			out = append(out, rules.Diagnostic{Pos: d.Pos(to), Field: "actions." + name.Value + ".deliver_to", Hint: hint,
				Message: fmt.Sprintf("unknown destination %q: tierflow.yaml declares no such destination", to.Value)})
		}
	}
	if !unread {
		out = append(out, c.checkSync(segs)...)
	}
	return out
}

// segmentationNames are the names of the segmentations a rule file's
// root declares.
func segmentationNames(root *yaml.Node) []string {
	var out []string
	if list := valueOf(root, "segmentations"); list != nil && list.Kind == yaml.SequenceNode {
		for _, item := range list.Content {
			if n := valueOf(item, "name"); item.Kind == yaml.MappingNode && n != nil && n.Value != "" {
				out = append(out, n.Value)
			}
		}
	}
	return out
}

// checkSync reports, positioned in the config, every segmentation a
// destination's sync: names that is not among segs.
func (c *config) checkSync(segs []string) rules.ErrorList {
	slices.Sort(segs)
	segs = slices.Compact(segs)
	var out rules.ErrorList
	for _, name := range c.destinationNames() {
		dc := c.Destinations[name]
		for i, seg := range dc.SyncSegmentations {
			if slices.Contains(segs, seg) {
				continue
			}
			out = append(out, rules.Diagnostic{Pos: dc.syncPos[i], Field: "destinations." + name + ".sync",
				Hint:    nearOr(seg, segs, "name a segmentation of the rule sets: "+strings.Join(segs, ", ")),
				Message: fmt.Sprintf("unknown segmentation %q: no rule set declares it", seg)})
		}
	}
	return out
}

// secretRef is where one credential of a CRM destination is kept: an
// environment variable or a file (relative to the config). Its value
// never passes through the config.
type secretRef struct {
	Env, File string
}

// The credentials of the CRM destinations, each read from KEY_env or
// KEY_file; KEY itself is refused.
var (
	zohoCredentials    = []string{"client_id", "client_secret", "refresh_token"}
	fxiaokeCredentials = []string{"app_id", "app_secret", "permanent_code"}
)

// credentialKeys are the keys that name credentials: KEY_env, KEY_file
// and KEY, which is refused with its own message.
func credentialKeys(creds []string) []string {
	var out []string
	for _, c := range creds {
		out = append(out, c+"_env", c+"_file", c)
	}
	return out
}

// credentials reads where each of creds is kept. A literal value (KEY:)
// is refused without being quoted, and so is a *_env value that is not a
// variable's name.
func (r *configReader) credentials(e rules.Entry, m map[string]*yaml.Node, field string, creds []string) map[string]secretRef {
	const never = "a credential never goes in the config"
	out := make(map[string]secretRef, len(creds))
	for _, c := range creds {
		envKey, fileKey := c+"_env", c+"_file"
		if m[c] != nil {
			r.Errorf(m[c], field+"."+c, "put it in an environment variable and name it with "+envKey+", or in a file named by "+fileKey, never)
			continue
		}
		ref := secretRef{Env: r.String(m[envKey], field+"."+envKey), File: r.String(m[fileKey], field+"."+fileKey)}
		switch {
		case ref.Env != "" && !envName.MatchString(ref.Env):
			r.Errorf(m[envKey], field+"."+envKey, "set "+envKey+" to the name of the environment variable that holds it, such as "+strings.ToUpper(e.Key+"_"+c), "%s; this is not a variable's name", never)
		case ref.Env != "" && ref.File != "":
			key := fileKey
			if later(m[envKey], m[fileKey]) == m[envKey] {
				key = envKey
			}
			r.Errorf(m[key], field+"."+key, "keep one: "+envKey+" names an environment variable, "+fileKey+" a file holding it", "%s and %s are both set", envKey, fileKey)
		case ref.Env == "" && ref.File == "":
			r.Errorf(e.KeyNode, field, "name the environment variable ("+envKey+") or the file ("+fileKey+") that holds it", "a %s destination needs %s or %s", valueOf(e.Value, "type").Value, envKey, fileKey)
		}
		out[c] = ref
	}
	return out
}

// envName is the shape of an environment variable's name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// zoho reads the keys of a Zoho CRM destination.
func (r *configReader) zoho(e rules.Entry, m map[string]*yaml.Node, field string, dc *destinationConfig) {
	dc.Secrets = r.credentials(e, m, field, zohoCredentials)
	zc := &zoho.Config{
		DataCenter:  r.String(m["data_center"], field+".data_center"),
		AccountsURL: r.crmURL(m["accounts_url"], field+".accounts_url"),
		APIURL:      r.crmURL(m["api_url"], field+".api_url"),
		APIVersion:  r.String(m["api_version"], field+".api_version"),
		Module:      r.String(m["module"], field+".module"),
		Fields:      r.stringMap(m["fields"], field+".fields"),
	}
	if r.Required(m, e.KeyNode, field, "external_id_field", "name the field the record is matched on, e.g. external_id_field: Customer_ID") != nil {
		zc.ExternalIDField = r.nonEmpty(m["external_id_field"], field+".external_id_field", "name the field the record is matched on, e.g. external_id_field: Customer_ID")
	}
	zc.Timeout = r.crmTimeout(m["timeout"], field+".timeout")
	if n := m["task"]; n != nil {
		zc.Task = r.zohoTask(n, field+".task")
	}
	dc.Zoho = zc
	check := *zc
	check.ClientID, check.ClientSecret, check.RefreshToken = "-", "-", "-"
	check.ExternalIDField = cmp.Or(check.ExternalIDField, "-")
	_, err := zoho.New(check)
	r.connectorErrors(e, field, err)
}

// zohoTask reads task: of a Zoho destination. priority maps action
// priorities to Zoho's picklist; its key default is for the others.
func (r *configReader) zohoTask(n *yaml.Node, field string) *zoho.TaskConfig {
	m, _ := r.Mapping(n, field, "actions", "subject", "due_in", "priority", "owner", "fields")
	t := &zoho.TaskConfig{
		Actions: r.stringList(m["actions"], field+".actions"),
		Subject: r.String(m["subject"], field+".subject"),
		DueIn:   r.String(m["due_in"], field+".due_in"),
		Owner:   r.String(m["owner"], field+".owner"),
		Fields:  r.stringMap(m["fields"], field+".fields"),
	}
	for _, pe := range r.Entries(m["priority"], field+".priority") {
		v := r.String(pe.Value, field+".priority."+pe.Key)
		if pe.Key == "default" {
			t.DefaultPriority = v
			continue
		}
		p, err := strconv.Atoi(pe.Key)
		if err != nil {
			r.Errorf(pe.KeyNode, field+".priority."+pe.Key, "map an action's priority (a number) to Highest, High, Normal, Low or Lowest, e.g. {1: Highest, 2: High, default: Normal}", "%q is not a priority", pe.Key)
			continue
		}
		if t.Priority == nil {
			t.Priority = map[int]string{}
		}
		t.Priority[p] = v
	}
	return t
}

// fxiaoke reads the keys of a Fxiaoke destination.
func (r *configReader) fxiaoke(e rules.Entry, m map[string]*yaml.Node, field string, dc *destinationConfig) {
	dc.Secrets = r.credentials(e, m, field, fxiaokeCredentials)
	fc := &fxiaoke.Config{
		BaseURL:    r.crmURL(m["base_url"], field+".base_url"),
		Object:     r.String(m["object"], field+".object"),
		MatchField: r.String(m["match_field"], field+".match_field"),
		Fields:     r.stringMap(m["fields"], field+".fields"),
		Timeout:    r.crmTimeout(m["timeout"], field+".timeout"),
	}
	if r.Required(m, e.KeyNode, field, "current_open_user_id", "name the employee the API acts as, e.g. current_open_user_id: FSUID_...") != nil {
		fc.CurrentOpenUserID = r.nonEmpty(m["current_open_user_id"], field+".current_open_user_id", "name the employee the API acts as, e.g. current_open_user_id: FSUID_...")
	}
	if s := r.duration(m["min_token_interval"], field+".min_token_interval"); s != "" {
		fc.MinTokenInterval, _ = rules.ParseDuration(s)
	}
	for _, c := range r.List(m["token_error_codes"], field+".token_error_codes") {
		if v, ok := r.Int(c, field+".token_error_codes"); ok {
			fc.TokenErrorCodes = append(fc.TokenErrorCodes, v)
		}
	}
	if n := m["follow_up"]; n != nil {
		fm, _ := r.Mapping(n, field+".follow_up", "actions", "object", "link_field", "fields")
		fc.FollowUp = &fxiaoke.FollowUpConfig{
			Actions:   r.stringList(fm["actions"], field+".follow_up.actions"),
			Object:    r.String(fm["object"], field+".follow_up.object"),
			LinkField: r.String(fm["link_field"], field+".follow_up.link_field"),
			Fields:    r.stringMap(fm["fields"], field+".follow_up.fields"),
		}
	}
	dc.Fxiaoke = fc
	check := *fc
	check.AppID, check.AppSecret, check.PermanentCode = "-", "-", "-"
	check.CurrentOpenUserID = cmp.Or(check.CurrentOpenUserID, "-")
	_, err := fxiaoke.New(check)
	r.connectorErrors(e, field, err)
}

// connectorErrors reports what a connector's New found wrong (templates,
// data centre, follow-up), one line each, at the destination.
func (r *configReader) connectorErrors(e rules.Entry, field string, err error) {
	if err == nil {
		return
	}
	const hint = "templates are customer, ruleset, action, priority, due_at, idempotency_key, payload.NAME, payload.NAME? or =literal (docs/crm.md)"
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			r.Errorf(e.KeyNode, field, hint, "%s", line)
		}
	}
}

// crmURL reads an optional http:// or https:// URL.
func (r *configReader) crmURL(n *yaml.Node, field string) string {
	u := r.String(n, field)
	if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		r.Errorf(n, field, "write an http:// or https:// URL, or leave it out for the default", "%q is not an http or https URL", u)
	}
	return u
}

// crmTimeout reads an optional timeout of one delivery.
func (r *configReader) crmTimeout(n *yaml.Node, field string) time.Duration {
	s := r.duration(n, field)
	if s == "" {
		return 0
	}
	d, _ := rules.ParseDuration(s)
	return d
}

// stringList reads a list of strings, or one string as a list of one.
func (r *configReader) stringList(n *yaml.Node, field string) []string {
	if n != nil && n.Kind == yaml.ScalarNode {
		if s := r.String(n, field); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, item := range r.List(n, field) {
		out = append(out, r.String(item, field))
	}
	return out
}

// crmSecrets reads the credentials of a CRM destination from where the
// config says they are. Errors name where they were looked for, never
// what was found.
func (c *config) crmSecrets(getenv func(string) string, name string, dc destinationConfig) (map[string]string, error) {
	out := make(map[string]string, len(dc.Secrets))
	for _, cred := range slices.Sorted(maps.Keys(dc.Secrets)) {
		ref := dc.Secrets[cred]
		field := "destinations." + name + "." + cred
		var v, where string
		if ref.File != "" {
			b, err := os.ReadFile(c.relative(ref.File))
			if err != nil {
				return nil, fmt.Errorf("%s_file: %w", field, err)
			}
			v, where = strings.TrimSpace(string(b)), ref.File
		} else {
			v, where = strings.TrimSpace(getenv(ref.Env)), "$"+ref.Env
		}
		if v == "" {
			return nil, fmt.Errorf("%s: %s holds no %s: put it there", "destinations."+name, where, cred)
		}
		out[cred] = v
	}
	return out, nil
}
