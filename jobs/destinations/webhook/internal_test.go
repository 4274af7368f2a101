package webhook

import (
	"strings"
	"testing"
)

// The Standard Webhooks reference libraries' signing vector.
func TestSignatureKnownVector(t *testing.T) {
	key, err := parseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := signature([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestMessageIDHasNoFullStop(t *testing.T) {
	key := "rs/winback_call/cust.42/2026-03-01T12:00:00.5Z"
	id := MessageID(key)
	if strings.ContainsAny(id, ". ") || id != MessageID(key) || id == MessageID(key+"x") || len(id) != 36 {
		t.Fatalf("MessageID(%q) = %q", key, id)
	}
}
