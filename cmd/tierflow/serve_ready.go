package main

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startStatus is what /readyz says while serve waits for its database:
// a reason with no secret in it (never an error's text).
type startStatus struct {
	mu     sync.Mutex
	reason string
}

func newStartStatus() *startStatus {
	return &startStatus{reason: "waiting for the database"}
}

// waiting records why serve is not ready yet.
func (s *startStatus) waiting(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reason = reason
}

func (s *startStatus) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// waitingMux serves while serve waits for its database: /healthz answers
// ok (the process is alive: restarting it would not help), /readyz 503
// with the reason, /metrics the metrics, and every other path 503.
func waitingMux(reg *prometheus.Registry, status *startStatus) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: "+status.String(), http.StatusServiceUnavailable)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: "+status.String(), http.StatusServiceUnavailable)
	})
	return mux
}

// switchHandler serves with the handler set last: the waiting mux at
// first, the full one once the database is reached.
type switchHandler struct {
	h atomic.Pointer[http.Handler]
}

func newSwitchHandler(h http.Handler) *switchHandler {
	s := &switchHandler{}
	s.set(h)
	return s
}

func (s *switchHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}
