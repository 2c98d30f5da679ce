package sizes

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestRows(t *testing.T) {
	scans := []*layerScan{{size: 10}, {size: 20}}
	wasted := []int64{3, 0}
	type row struct {
		index     int
		size      int64
		createdBy string
		empty     bool
	}
	tests := []struct {
		name    string
		history []v1.History
		want    []row
	}{
		{
			name: "metadata steps between layers",
			history: []v1.History{
				{CreatedBy: "ADD root /"},
				{CreatedBy: "ENV A=1", EmptyLayer: true},
				{CreatedBy: "RUN make"},
				{CreatedBy: "CMD [\"app\"]", EmptyLayer: true},
			},
			want: []row{
				{0, 10, "ADD root /", false},
				{-1, 0, "ENV A=1", true},
				{1, 20, "RUN make", false},
				{-1, 0, "CMD [\"app\"]", true},
			},
		},
		{
			name:    "no history",
			history: nil,
			want:    []row{{0, 10, "", false}, {1, 20, "", false}},
		},
		{
			name:    "history shorter than the layers",
			history: []v1.History{{CreatedBy: "ADD root /"}},
			want:    []row{{0, 10, "ADD root /", false}, {1, 20, "", false}},
		},
		{
			name: "history longer than the layers",
			history: []v1.History{
				{CreatedBy: "ADD root /"}, {CreatedBy: "RUN a"}, {CreatedBy: "RUN b"},
				{CreatedBy: "USER app", EmptyLayer: true},
			},
			want: []row{
				{0, 10, "ADD root /", false},
				{1, 20, "RUN a", false},
				{-1, 0, "USER app", true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []row
			for _, l := range rows(tt.history, scans, wasted) {
				got = append(got, row{l.Index, l.Size, l.CreatedBy, l.EmptyLayer})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rows = %+v, want %+v", got, tt.want)
			}
		})
	}
}
