package gen_test

import (
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
