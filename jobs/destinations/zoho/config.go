package zoho

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/destinations/internal/destkit"
)

// Config configures one Zoho CRM destination. Secrets (ClientSecret,
// RefreshToken) are never written to errors or response excerpts.
type Config struct {
	// DataCenter picks the default AccountsURL and APIURL: "com" (the
	// default), "eu", "in", "com.cn", "com.au" or "jp".
	DataCenter string
	// AccountsURL is the accounts server, e.g. https://accounts.zoho.eu.
	AccountsURL string
	// APIURL is the API domain, e.g. https://www.zohoapis.eu. When it is
	// empty, the api_domain of the token response is used, and failing
	// that the data centre's default.
	APIURL string
	// APIVersion is the CRM API version in request paths; default "v7".
	APIVersion string

	ClientID     string
	ClientSecret string
	RefreshToken string

	// Module is the module whose record is upserted; default "Contacts".
	Module string
	// ExternalIDField is the field the record is matched on (the upsert's
	// duplicate_check_fields); it is set to the customer key unless Fields
	// maps it.
	ExternalIDField string
	// Fields maps CRM field API names to templates: customer, ruleset,
	// action, priority, due_at, idempotency_key, payload.NAME (nested:
	// payload.a.b; payload.NAME? leaves the field out when absent) or a
	// literal prefixed with "=".
	Fields map[string]string
	// Task, when set, creates a Task for each delivery of the actions it
	// names.
	Task *TaskConfig

	// Timeout bounds one Deliver call, token refresh included; default 30s.
	Timeout time.Duration
	// Client sends the requests; default a new http.Client.
	Client *http.Client
	// Now is the clock for token expiry and due dates; default time.Now.
	Now func() time.Time
}

// TaskConfig declares the Task created for a follow-up action.
type TaskConfig struct {
	// Actions names the actions that create a Task; empty means all.
	Actions []string
	// Subject is a template (as in Config.Fields); default "action".
	Subject string
	// DueIn is a template for the time from the action's due time to the
	// Task's Due_Date: a number of days, or a duration string ("72h",
	// "3d"). Empty: the Due_Date is the action's due date.
	DueIn string
	// Priority maps an action's priority to Zoho's Priority picklist
	// ("Highest", "High", "Normal", "Low", "Lowest"); priorities not
	// listed get DefaultPriority, or no Priority when that is empty.
	Priority        map[int]string
	DefaultPriority string
	// Owner is the Zoho user id the Task is assigned to; empty leaves
	// Zoho's default (the token's user).
	Owner string
	// Fields sets further Task fields, with the same templates.
	Fields map[string]string
}

// dataCenters maps a data centre to its accounts server and API domain.
var dataCenters = map[string][2]string{
	"com":    {"https://accounts.zoho.com", "https://www.zohoapis.com"},
	"eu":     {"https://accounts.zoho.eu", "https://www.zohoapis.eu"},
	"in":     {"https://accounts.zoho.in", "https://www.zohoapis.in"},
	"com.cn": {"https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"},
	"com.au": {"https://accounts.zoho.com.au", "https://www.zohoapis.com.au"},
	"jp":     {"https://accounts.zoho.jp", "https://www.zohoapis.jp"},
}

// compiled is a Config checked and compiled for delivery.
type compiled struct {
	accountsURL, apiURL, defaultAPIURL, version string
	fields                                      []destkit.Field
	task                                        *compiledTask
}

type compiledTask struct {
	actions  map[string]bool
	subject  destkit.Field
	dueIn    *destkit.Field
	priority map[int]string
	defPrio  string
	owner    string
	fields   []destkit.Field
}

// check fills defaults and reports every problem at once, naming fields.
func (c *Config) check() (compiled, error) {
	var out compiled
	var errs []error
	if c.DataCenter == "" {
		c.DataCenter = "com"
	}
	dc, ok := dataCenters[c.DataCenter]
	if !ok {
		errs = append(errs, fmt.Errorf("data_center: unknown %q (want com, eu, in, com.cn, com.au or jp)", c.DataCenter))
	}
	out.accountsURL = strings.TrimRight(destkit.OrDefault(c.AccountsURL, dc[0]), "/")
	out.apiURL = strings.TrimRight(c.APIURL, "/")
	out.defaultAPIURL = dc[1]
	out.version = destkit.OrDefault(c.APIVersion, "v7")
	for _, f := range [][2]string{{"client_id", c.ClientID}, {"client_secret", c.ClientSecret}, {"refresh_token", c.RefreshToken}, {"external_id_field", c.ExternalIDField}} {
		if f[1] == "" {
			errs = append(errs, fmt.Errorf("%s: required", f[0]))
		}
	}
	c.Module = destkit.OrDefault(c.Module, "Contacts")
	var err error
	if out.fields, err = destkit.CompileFields("fields", c.Fields); err != nil {
		errs = append(errs, err)
	}
	if c.Task != nil {
		if out.task, err = c.Task.compile(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return out, errors.Join(errs...)
}

func (t *TaskConfig) compile() (*compiledTask, error) {
	ct := &compiledTask{actions: map[string]bool{}, priority: t.Priority, defPrio: t.DefaultPriority, owner: t.Owner}
	for _, a := range t.Actions {
		ct.actions[a] = true
	}
	var errs []error
	var err error
	if ct.subject, err = destkit.CompileTemplate("Subject", destkit.OrDefault(t.Subject, "action")); err != nil {
		errs = append(errs, fmt.Errorf("task.subject: %w", err))
	}
	if t.DueIn != "" {
		s, err := destkit.CompileTemplate("Due_Date", t.DueIn)
		if err != nil {
			errs = append(errs, fmt.Errorf("task.due_in: %w", err))
		}
		ct.dueIn = &s
	}
	if ct.fields, err = destkit.CompileFields("task.fields", t.Fields); err != nil {
		errs = append(errs, err)
	}
	return ct, errors.Join(errs...)
}
