package sandbox

import (
	"context"
	"net"
	"strings"
	"testing"
)

// A base image whose registry's name resolves onto the server's own network
// is refused on its FROM line; docker.io (the local mirror) is never looked
// up.
func TestCheckRegistries(t *testing.T) {
	var looked []string
	answers := map[string]string{"registry.internal": "10.1.2.3", "public.example": "203.0.113.5"}
	saved := lookupHost
	lookupHost = func(_ context.Context, host string) ([]net.IPAddr, error) {
		looked = append(looked, host)
		return []net.IPAddr{{IP: net.ParseIP(answers[host])}}, nil
	}
	defer func() { lookupHost = saved }()

	cases := []struct {
		dockerfile string
		line       int
		want       string
	}{
		{"FROM busybox\nFROM public.example/tools:1\n", 0, ""},
		{"FROM busybox AS a\nFROM registry.internal:5000/tools\nCOPY --from=a /x /x\n", 2,
			"registry's name registry.internal points at 10.1.2.3"},
	}
	for _, tc := range cases {
		p, err := readPlan([]byte(tc.dockerfile), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		be := checkRegistries(context.Background(), p)
		switch {
		case tc.want == "" && be != nil:
			t.Errorf("%q refused: %v", tc.dockerfile, be)
		case tc.want != "" && (be == nil || !strings.Contains(be.Message, tc.want) || be.Line == nil || be.Line.Start != tc.line):
			t.Errorf("%q: %+v, want line %d saying %q", tc.dockerfile, be, tc.line, tc.want)
		}
	}
	for _, h := range looked {
		if h == "docker.io" || h == "busybox" {
			t.Errorf("looked up %s", h)
		}
	}
}
