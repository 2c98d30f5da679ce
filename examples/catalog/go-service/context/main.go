// tally is a tiny HTTP service that counts visits. It needs nothing but
// Go's standard library, so it builds without downloading a module.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	probe := flag.Bool("healthcheck", false, "ask a running tally whether it is healthy, then exit")
	flag.Parse()

	if *probe {
		os.Exit(healthcheck(*addr))
	}

	var visits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "visit number %d\n", visits.Add(1))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("tally listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}

// healthcheck is what the image's HEALTHCHECK runs. A scratch image has no
// shell, curl or wget, so the program checks itself.
func healthcheck(addr string) int {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://127.0.0.1" + port(addr) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "status", resp.Status)
		return 1
	}
	return 0
}

// port keeps the ":8080" of an address like "0.0.0.0:8080".
func port(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ":" + addr
}
