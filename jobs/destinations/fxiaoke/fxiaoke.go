package fxiaoke

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/internal/destkit"
)

// Fxiaoke is a jobs.Destination that writes to one Fxiaoke enterprise.
// It is safe for concurrent use.
type Fxiaoke struct {
	cfg    Config
	c      compiled
	tokens *destkit.TokenSource
}

var _ jobs.Destination = (*Fxiaoke)(nil)

// New checks cfg, fills its defaults and returns the destination.
func New(cfg Config) (*Fxiaoke, error) {
	c, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("fxiaoke: %w", err)
	}
	f := &Fxiaoke{cfg: cfg, c: c}
	f.tokens = destkit.NewTokenSource(f.fetchToken, cfg.Now, destkit.TokenMargin, cfg.MinTokenInterval)
	return f, nil
}

func (f *Fxiaoke) secrets() []string {
	return append([]string{f.cfg.AppSecret, f.cfg.PermanentCode}, f.tokens.Tokens()...)
}

// Deliver updates the customer's record and, for a follow-up action,
// creates its follow-up record. A retry repeats the update (idempotent);
// the follow-up is created only after the update succeeded.
func (f *Fxiaoke) Deliver(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	ex, err := f.deliver(ctx, d)
	if err != nil {
		err = fmt.Errorf("fxiaoke: %w", err)
	}
	return destkit.Outcome(ex, err, f.secrets())
}

func (f *Fxiaoke) deliver(ctx context.Context, d *jobs.Delivery) (destkit.Exchange, error) {
	payload, err := destkit.DecodePayload(d.Payload)
	if err != nil {
		return destkit.Exchange{}, &destkit.Failure{Err: err, Permanent: true}
	}
	rec := map[string]any{}
	if err := destkit.ApplyFields(f.c.fields, d, payload, rec); err != nil {
		return destkit.Exchange{}, &destkit.Failure{Err: err, Permanent: true}
	}
	var follow map[string]any
	if fu := f.c.followUp; fu != nil && (len(fu.actions) == 0 || fu.actions[d.Action]) {
		follow = map[string]any{"dataObjectApiName": f.cfg.FollowUp.Object}
		if err := destkit.ApplyFields(fu.fields, d, payload, follow); err != nil {
			return destkit.Exchange{}, &destkit.Failure{Err: fmt.Errorf("follow_up: %w", err), Permanent: true}
		}
	}
	id, ex, err := f.recordID(ctx, d)
	if err != nil {
		return ex, err
	}
	if len(rec) > 0 {
		rec["_id"], rec["dataObjectApiName"] = id, f.cfg.Object
		if ex, _, err = f.call(ctx, d, endpoint(f.cfg.Object, "update"), map[string]any{"object_data": rec}); err != nil {
			return ex, err
		}
	}
	if follow == nil {
		return ex, nil
	}
	follow[f.cfg.FollowUp.LinkField] = id
	ex, _, err = f.call(ctx, d, endpoint(f.cfg.FollowUp.Object, "create"), map[string]any{"object_data": follow})
	if err != nil {
		return ex, fmt.Errorf("create follow-up: %w", err)
	}
	return ex, nil
}

// endpoint is the data API path for an object: custom objects (API
// names ending in __c) have their own.
func endpoint(object, op string) string {
	if strings.HasSuffix(object, "__c") {
		return "/cgi/crm/custom/v2/data/" + op
	}
	return "/cgi/crm/v2/data/" + op
}

// recordID finds the _id of the customer's record.
func (f *Fxiaoke) recordID(ctx context.Context, d *jobs.Delivery) (string, destkit.Exchange, error) {
	if f.cfg.MatchField == "" || f.cfg.MatchField == "_id" {
		return d.Customer, destkit.Exchange{}, nil
	}
	ex, resp, err := f.call(ctx, d, endpoint(f.cfg.Object, "query"), map[string]any{
		"dataObjectApiName": f.cfg.Object,
		"search_query_info": map[string]any{
			"limit": 1, "offset": 0,
			"filters": []any{map[string]any{"field_name": f.cfg.MatchField, "field_values": []string{d.Customer}, "operator": "EQ"}},
		},
	})
	if err != nil {
		return "", ex, fmt.Errorf("find %s: %w", f.cfg.Object, err)
	}
	var found struct {
		Data struct {
			DataList []struct {
				ID string `json:"_id"`
			} `json:"dataList"`
		} `json:"data"`
	}
	_ = json.Unmarshal(resp, &found)
	if len(found.Data.DataList) == 0 || found.Data.DataList[0].ID == "" {
		return "", ex, &destkit.Failure{Err: fmt.Errorf("find %s: no record with %s = %q", f.cfg.Object, f.cfg.MatchField, d.Customer), Ex: ex, Permanent: true}
	}
	return found.Data.DataList[0].ID, ex, nil
}

// envelope is the error part of every Fxiaoke answer.
type envelope struct {
	ErrorCode    *int   `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// call posts data with the common parameters. An HTTP 200 whose
// errorCode is not 0 is a failure; a token errorCode drops the token, and
// the request is sent once more with a new one.
func (f *Fxiaoke) call(ctx context.Context, d *jobs.Delivery, path string, data any) (destkit.Exchange, []byte, error) {
	what := "post " + path
	u := f.c.base + path + "?thirdTraceId=" + url.QueryEscape(fmt.Sprintf("%s-%d", d.IdempotencyKey, d.Attempt))
	for retried := false; ; retried = true {
		tok, err := f.tokens.Get(ctx)
		if err != nil {
			return destkit.Exchange{}, nil, err
		}
		b, err := json.Marshal(map[string]any{
			"corpAccessToken":   tok.Value,
			"corpId":            tok.Extra,
			"currentOpenUserId": f.cfg.CurrentOpenUserID,
			"data":              data,
		})
		if err != nil {
			return destkit.Exchange{}, nil, &destkit.Failure{Err: fmt.Errorf("%s: encode: %w", what, err), Permanent: true}
		}
		ex, err := destkit.Post(ctx, f.cfg.Client, u, "application/json", b, nil)
		if err != nil {
			return ex, nil, &destkit.Failure{Err: fmt.Errorf("%s: %w", what, err)}
		}
		var env envelope
		jsonErr := json.Unmarshal(ex.Body, &env)
		if err := destkit.Classify(ex, what, env.ErrorMessage, f.cfg.Now()); err != nil {
			return ex, nil, err
		}
		if jsonErr != nil || env.ErrorCode == nil {
			return ex, nil, &destkit.Failure{Err: fmt.Errorf("%s: http %d: no errorCode in the response", what, ex.Status), Ex: ex}
		}
		code := *env.ErrorCode
		if code == 0 {
			return ex, ex.Body, nil
		}
		if f.c.tokenCodes[code] && !retried {
			if err := f.tokens.Invalidate(ctx, tok); err != nil {
				return ex, nil, err
			}
			continue
		}
		return ex, nil, &destkit.Failure{Err: fmt.Errorf("%s: errorCode %d: %s", what, code, env.ErrorMessage), Ex: ex}
	}
}

// fetchToken asks for a corpAccessToken.
func (f *Fxiaoke) fetchToken(ctx context.Context) (destkit.Token, time.Duration, error) {
	const what = "get corpAccessToken"
	b, _ := json.Marshal(map[string]string{"appId": f.cfg.AppID, "appSecret": f.cfg.AppSecret, "permanentCode": f.cfg.PermanentCode})
	ex, err := destkit.Post(ctx, f.cfg.Client, f.c.base+"/cgi/corpAccessToken/get/V2", "application/json", b, nil)
	if err != nil {
		return destkit.Token{}, 0, &destkit.Failure{Err: fmt.Errorf("%s: %w", what, err)}
	}
	var resp struct {
		envelope
		CorpAccessToken string  `json:"corpAccessToken"`
		CorpID          string  `json:"corpId"`
		ExpiresIn       float64 `json:"expiresIn"`
	}
	_ = json.Unmarshal(ex.Body, &resp)
	if err := destkit.Classify(ex, what, resp.ErrorMessage, f.cfg.Now()); err != nil {
		if fl, ok := err.(*destkit.Failure); ok {
			fl.Permanent = false // a credential an operator can fix
		}
		return destkit.Token{}, 0, err
	}
	if resp.ErrorCode == nil || *resp.ErrorCode != 0 || resp.CorpAccessToken == "" {
		code := -1
		if resp.ErrorCode != nil {
			code = *resp.ErrorCode
		}
		return destkit.Token{}, 0, &destkit.Failure{Err: fmt.Errorf("%s: errorCode %d: %s", what, code, destkit.OrDefault(resp.ErrorMessage, "no corpAccessToken in the response")), Ex: ex}
	}
	ttl := time.Duration(resp.ExpiresIn * float64(time.Second))
	if ttl <= 0 {
		ttl = 2 * time.Hour
	}
	return destkit.Token{Value: resp.CorpAccessToken, Extra: resp.CorpID}, ttl, nil
}
