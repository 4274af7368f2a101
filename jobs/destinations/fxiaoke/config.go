package fxiaoke

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/destinations/internal/destkit"
)

// Config configures one Fxiaoke destination. Secrets (AppSecret,
// PermanentCode, the corpAccessToken) are never written to errors or
// response excerpts.
type Config struct {
	// BaseURL is the cloud domain; default https://open.fxiaoke.com.
	BaseURL string

	AppID         string
	AppSecret     string
	PermanentCode string
	// CurrentOpenUserID is the employee the API acts as.
	CurrentOpenUserID string

	// Object is the object's API name; default "AccountObj". Names
	// ending in "__c" use the custom-object endpoints.
	Object string
	// MatchField finds the customer's record: empty or "_id" means the
	// customer key is the record's _id; any other field is queried with
	// EQ on the customer key before the update.
	MatchField string
	// Fields maps object field API names to templates: customer, ruleset,
	// action, priority, due_at, idempotency_key, payload.NAME (nested:
	// payload.a.b; payload.NAME? leaves the field out when absent) or a
	// literal prefixed with "=".
	Fields map[string]string
	// FollowUp, when set, creates a follow-up record for each delivery of
	// the actions it names.
	FollowUp *FollowUpConfig

	// TokenErrorCodes are the errorCodes that mean the corpAccessToken is
	// no longer valid: the token is fetched again once and the request
	// repeated. Default DefaultTokenErrorCodes.
	TokenErrorCodes []int
	// MinTokenInterval is the least time between two token requests, for
	// the token endpoint's own rate limit; default 1 minute.
	MinTokenInterval time.Duration

	// Timeout bounds one Deliver call, token request included; default 30s.
	Timeout time.Duration
	// Client sends the requests; default a new http.Client.
	Client *http.Client
	// Now is the clock for token lifetimes; default time.Now.
	Now func() time.Time
}

// FollowUpConfig declares the follow-up record created for an action.
type FollowUpConfig struct {
	// Actions names the actions that create a follow-up; empty means all.
	Actions []string
	// Object is the follow-up object's API name (required), e.g. a custom
	// object "tierflow_followup__c".
	Object string
	// LinkField is the follow-up's field that is set to the customer
	// record's _id (required).
	LinkField string
	// Fields sets the follow-up's fields, with the same templates.
	Fields map[string]string
}

// DefaultTokenErrorCodes is the assumed errorCode of an expired or
// invalid corpAccessToken (docs/crm.md).
var DefaultTokenErrorCodes = []int{20016}

type compiled struct {
	base       string
	fields     []destkit.Field
	followUp   *compiledFollowUp
	tokenCodes map[int]bool
}

type compiledFollowUp struct {
	actions map[string]bool
	fields  []destkit.Field
}

// check fills defaults and reports every problem at once, naming fields.
func (c *Config) check() (compiled, error) {
	var out compiled
	var errs []error
	out.base = strings.TrimRight(destkit.OrDefault(c.BaseURL, "https://open.fxiaoke.com"), "/")
	for _, f := range [][2]string{{"app_id", c.AppID}, {"app_secret", c.AppSecret}, {"permanent_code", c.PermanentCode}, {"current_open_user_id", c.CurrentOpenUserID}} {
		if f[1] == "" {
			errs = append(errs, fmt.Errorf("%s: required", f[0]))
		}
	}
	c.Object = destkit.OrDefault(c.Object, "AccountObj")
	if len(c.Fields) == 0 && c.FollowUp == nil {
		errs = append(errs, errors.New("fields: required unless follow_up is set"))
	}
	var err error
	if out.fields, err = destkit.CompileFields("fields", c.Fields); err != nil {
		errs = append(errs, err)
	}
	if fu := c.FollowUp; fu != nil {
		out.followUp = &compiledFollowUp{actions: map[string]bool{}}
		for _, a := range fu.Actions {
			out.followUp.actions[a] = true
		}
		if fu.Object == "" {
			errs = append(errs, errors.New("follow_up.object: required"))
		}
		if fu.LinkField == "" {
			errs = append(errs, errors.New("follow_up.link_field: required"))
		}
		if out.followUp.fields, err = destkit.CompileFields("follow_up.fields", fu.Fields); err != nil {
			errs = append(errs, err)
		}
	}
	codes := c.TokenErrorCodes
	if len(codes) == 0 {
		codes = DefaultTokenErrorCodes
	}
	out.tokenCodes = map[int]bool{}
	for _, code := range codes {
		out.tokenCodes[code] = true
	}
	if c.MinTokenInterval <= 0 {
		c.MinTokenInterval = time.Minute
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
