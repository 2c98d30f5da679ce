package domain

import (
	"sync"
	"testing"
)

func TestEventLogAfter(t *testing.T) {
	l := NewEventLog()
	for range 5 {
		l.Append(Event{Type: EventProgress})
	}
	tests := []struct {
		after int64
		want  []int64
	}{
		{-1, []int64{1, 2, 3, 4, 5}},
		{0, []int64{1, 2, 3, 4, 5}},
		{3, []int64{4, 5}},
		{5, nil},
		{9, nil},
	}
	for _, tt := range tests {
		events, done, _ := l.After(tt.after)
		if done {
			t.Errorf("After(%d): done before Close", tt.after)
		}
		if got := seqsOf(events); !equal(got, tt.want) {
			t.Errorf("After(%d) = %v, want %v", tt.after, got, tt.want)
		}
	}
	l.Close()
	if e := l.Append(Event{Type: EventProgress}); e.Seq != 0 || l.Len() != 5 {
		t.Errorf("append after close stored seq %d, len %d", e.Seq, l.Len())
	}
	if _, done, _ := l.After(5); !done {
		t.Error("After(5) after Close: not done")
	}
}

// Readers that follow the log while it is written see every event once, in
// order.
func TestEventLogConcurrentReaders(t *testing.T) {
	l := NewEventLog()
	var wg sync.WaitGroup
	got := make([][]int64, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var after int64
			for {
				events, done, changed := l.After(after)
				for _, e := range events {
					got[i] = append(got[i], e.Seq)
					after = e.Seq
				}
				if done && len(events) == 0 {
					return
				}
				if len(events) == 0 {
					<-changed
				}
			}
		}()
	}
	for range 1000 {
		l.Append(Event{Type: EventLogChunk})
	}
	l.Close()
	wg.Wait()
	for i, seqs := range got {
		if len(seqs) != 1000 || seqs[0] != 1 || seqs[999] != 1000 {
			t.Fatalf("reader %d saw %d events", i, len(seqs))
		}
		for j := 1; j < len(seqs); j++ {
			if seqs[j] != seqs[j-1]+1 {
				t.Fatalf("reader %d: seq %d after %d", i, seqs[j], seqs[j-1])
			}
		}
	}
}

func seqsOf(events []Event) []int64 {
	var out []int64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
