package main

import "testing"

func TestPort(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":        ":8080",
		"0.0.0.0:9000": ":9000",
		"8081":         ":8081",
	} {
		if got := port(addr); got != want {
			t.Errorf("port(%q) = %q, want %q", addr, got, want)
		}
	}
}
