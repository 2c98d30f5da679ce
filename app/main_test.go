package app_test

import (
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
)

// The tests of this package build on one real layerlab: a managed buildkitd
// and a mirror seeded with busybox.
func TestMain(m *testing.M) {
	labtest.Main(m, labtest.Options{
		Images: []string{"busybox"},
		Limits: domain.Limits{
			MaxFileBytes:       128 << 10,
			MaxContextBytes:    512 << 10,
			MaxFiles:           20,
			MaxDockerfileBytes: 128 << 10,
		},
	})
}
