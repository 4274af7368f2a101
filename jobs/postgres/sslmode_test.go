package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// A URL without sslmode to a server without TLS (a local one, usually)
// fails with lib/pq's bare "SSL is not enabled on the server": the error
// says what to add.
func TestOpenWithoutTLSSaysSSLMode(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	_, err = postgres.Open(context.Background(), postgres.Config{URL: u.String()})
	if !errors.Is(err, pq.ErrSSLNotSupported) || !strings.Contains(err.Error(), "add sslmode=disable to the URL") {
		t.Fatalf("open without sslmode: %v; want the TLS error with the sslmode hint", err)
	}
}
