package domain

import (
	"sync"
	"time"
)

// EventLog is a build's append-only stream of events. Any number of readers
// follow it at their own pace; each asks for the events after the last seq it
// saw, so none misses or repeats one, whether it joined early or late.
type EventLog struct {
	mu      sync.Mutex
	events  []Event
	closed  bool
	changed chan struct{}
	now     func() time.Time
}

// NewEventLog returns an empty, open log.
func NewEventLog() *EventLog {
	return &EventLog{changed: make(chan struct{}), now: time.Now}
}

// Append numbers the event, stamps it when it has no time yet, stores it and
// wakes the readers. Appending to a closed log drops the event: a build's
// stream ends with its result.
func (l *EventLog) Append(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return e
	}
	e.Seq = int64(len(l.events)) + 1
	if e.Time.IsZero() {
		e.Time = l.now().UTC()
	}
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
	return e
}

// Close ends the stream; readers see done once they have read everything.
func (l *EventLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	close(l.changed)
}

// After returns the events with seq greater than after, whether the stream has
// ended, and a channel that is closed when there is something new to read.
func (l *EventLog) After(after int64) (events []Event, done bool, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after < 0 {
		after = 0
	}
	if after < int64(len(l.events)) {
		events = append([]Event(nil), l.events[after:]...)
	}
	return events, l.closed, l.changed
}

// Len returns how many events the log holds.
func (l *EventLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}
