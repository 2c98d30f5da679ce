package domain

import "testing"

// Sizes arrive in the order stages finish measuring and are kept in
// Dockerfile order; a skipped stage that shares a measured one's name gets
// no size.
func TestStateSizes(t *testing.T) {
	var s BuildState
	s.Apply(Event{Type: EventStages, Stages: []Stage{
		{Name: "a", Index: 0, Skipped: true}, {Name: "a", Index: 1}, {Name: "b", Index: 2}}})
	s.Apply(Event{Type: EventStageSize, Size: &StageSize{Name: "b", SizeBytes: 2}})
	s.Apply(Event{Type: EventStageSize, Size: &StageSize{Name: "a", SizeBytes: 1}})

	if len(s.Sizes) != 2 || s.Sizes[0].Name != "a" || s.Sizes[1].Name != "b" {
		t.Errorf("sizes %+v, want a then b", s.Sizes)
	}
	if s.Stages[0].SizeBytes != nil {
		t.Errorf("the skipped stage a got a size")
	}
	if s.Stages[1].SizeBytes == nil || *s.Stages[1].SizeBytes != 1 || s.Stages[2].SizeBytes == nil {
		t.Errorf("stages %+v: want a (the built one) and b sized", s.Stages)
	}
}
