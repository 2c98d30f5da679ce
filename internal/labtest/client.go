package labtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/layerlab/layerlab/domain"
)

// Request is the JSON body of POST /api/builds.
type Request struct {
	Files      map[string]string `json:"files"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Target     string            `json:"target,omitempty"`
	BuildArgs  map[string]string `json:"buildArgs,omitempty"`
}

// Client talks to a layerlab over its public API, as the page does.
type Client struct {
	Base string
}

// NewClient returns a client of the shared server.
func NewClient(tb testing.TB) *Client {
	tb.Helper()
	return &Client{Base: App(tb).URL()}
}

// Finished is a build as its stream and its state say it ended.
type Finished struct {
	ID     string
	Events []domain.Event
	State  domain.BuildState
}

// Build posts req, follows the event stream to the end and fetches the
// final state.
func (c *Client) Build(tb testing.TB, req Request) Finished {
	tb.Helper()
	id, err := c.Post(req)
	if err != nil {
		tb.Fatalf("post build: %v", err)
	}
	events, err := c.Events(id, 0)
	if err != nil {
		tb.Fatalf("follow build %s: %v", id, err)
	}
	state, err := c.State(id)
	if err != nil {
		tb.Fatalf("get build %s: %v", id, err)
	}
	return Finished{ID: id, Events: events, State: state}
}

// Post starts a build and returns its id. A refusal comes back as an
// *APIError.
func (c *Client) Post(req Request) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	return c.PostRaw("application/json", "", body)
}

// PostRaw posts a body of any type to /api/builds with the query given.
func (c *Client) PostRaw(contentType, query string, body []byte) (string, error) {
	url := c.Base + "/api/builds"
	if query != "" {
		url += "?" + query
	}
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		var e APIError
		_ = json.Unmarshal(data, &e)
		e.Status = resp.StatusCode
		return "", &e
	}
	var created struct{ ID, Events string }
	if err := json.Unmarshal(data, &created); err != nil {
		return "", fmt.Errorf("decode answer %q: %w", data, err)
	}
	return created.ID, nil
}

// APIError is a 4xx or 5xx answer.
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	ID      string `json:"id"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// Events reads the WebSocket stream of a build from after+1 until the server
// closes it.
func (c *Client) Events(id string, after int64) ([]domain.Event, error) {
	return c.EventsUntil(id, after, func(domain.Event) bool { return false })
}

// EventsUntil reads the stream until stop returns true for an event or the
// server closes it, and then hangs up.
func (c *Client) EventsUntil(id string, after int64, stop func(domain.Event) bool) ([]domain.Event, error) {
	path := "/api/builds/" + id + "/events"
	if after > 0 {
		path += fmt.Sprintf("?after=%d", after)
	}
	return c.stream(path, stop)
}

// stream reads the WebSocket at path until stop or a normal closure.
func (c *Client) stream(path string, stop func(domain.Event) bool) ([]domain.Event, error) {
	url := "ws" + strings.TrimPrefix(c.Base, "http") + path
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	defer conn.Close()
	var events []domain.Event
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
		var e domain.Event
		err := conn.ReadJSON(&e)
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, e)
		if stop(e) {
			return events, nil
		}
	}
}

// State fetches GET /api/builds/{id}.
func (c *Client) State(id string) (domain.BuildState, error) {
	var s domain.BuildState
	resp, err := http.Get(c.Base + "/api/builds/" + id)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status %d", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// Step finds the Dockerfile step whose instruction starts with prefix.
func (f Finished) Step(tb testing.TB, stage, prefix string) domain.Step {
	tb.Helper()
	for _, s := range f.State.Steps {
		if !s.Internal && s.Stage == stage && strings.HasPrefix(s.Instruction, prefix) {
			return s
		}
	}
	tb.Fatalf("build %s has no step %q in stage %q; steps: %s", f.ID, prefix, stage, f.StepList())
	return domain.Step{}
}

// StepList lists the build's steps for failure messages.
func (f Finished) StepList() string {
	var b strings.Builder
	for _, s := range f.State.Steps {
		if !s.Internal {
			fmt.Fprintf(&b, "\n  [%s %d/%d] %s (%s)", s.Stage, s.Index, s.Total, s.Instruction, s.State)
		}
	}
	return b.String()
}

// Log joins the log output of every step.
func (f Finished) Log() string {
	var b strings.Builder
	for _, e := range f.Events {
		if e.Type == domain.EventLogChunk {
			b.WriteString(e.Log.Data)
		}
	}
	return b.String()
}

// RunRequest is the JSON body of POST /api/runs.
type RunRequest struct {
	Variants []Variant `json:"variants"`
	Scenario Scenario  `json:"scenario"`
}

// Variant is one variant of a run.
type Variant struct {
	Name string `json:"name"`
	Request
}

// Scenario lists the changes between the cold build and the rebuild.
type Scenario struct {
	Changes []domain.Change `json:"changes"`
}

// Run posts a scenario run, follows its stream to the end and returns its
// events and final state.
func (c *Client) Run(tb testing.TB, req RunRequest) ([]domain.Event, domain.RunState) {
	tb.Helper()
	events, state, err := c.run(req)
	if err != nil {
		tb.Fatal(err)
	}
	return events, state
}

// RunAndWait posts a scenario run, follows it to the end and returns its
// final state, with errors instead of test failures.
func (c *Client) RunAndWait(req RunRequest) (domain.RunState, error) {
	_, state, err := c.run(req)
	return state, err
}

func (c *Client) run(req RunRequest) ([]domain.Event, domain.RunState, error) {
	var state domain.RunState
	body, err := json.Marshal(req)
	if err != nil {
		return nil, state, err
	}
	resp, err := http.Post(c.Base+"/api/runs", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, state, err
	}
	defer resp.Body.Close()
	var created struct{ ID, Events, Error string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	if resp.StatusCode != http.StatusAccepted {
		return nil, state, fmt.Errorf("post run: %d %s", resp.StatusCode, created.Error)
	}
	events, err := c.stream(created.Events, func(domain.Event) bool { return false })
	if err != nil {
		return events, state, fmt.Errorf("follow run %s: %w", created.ID, err)
	}
	resp2, err := http.Get(c.Base + "/api/runs/" + created.ID)
	if err != nil {
		return events, state, err
	}
	defer resp2.Body.Close()
	return events, state, json.NewDecoder(resp2.Body).Decode(&state)
}
