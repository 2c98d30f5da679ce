// Package handlers serves layerlab over HTTP: the pages, the JSON API and the
// WebSocket event streams. It speaks only layerlab's own types; everything
// about BuildKit stays behind domain.Worker.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/layerlab/layerlab/domain"
)

// Deps are what the handlers need from the rest of the program.
type Deps struct {
	Runner *domain.Runner
	Runs   *domain.Runs
	// Health reports on the worker; it may take a moment.
	Health func(ctx context.Context) domain.WorkerHealth
	Log    *slog.Logger
}

// Server holds the handlers' dependencies and the open WebSockets, which
// http.Server.Shutdown does not wait for.
type Server struct {
	Deps
	sockets sync.WaitGroup
	closing chan struct{}
	once    sync.Once
}

// New builds the Echo instance with every route of layerlab.
func New(deps Deps) (*echo.Echo, *Server) {
	s := &Server{Deps: deps, closing: make(chan struct{})}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	e.Use(s.requestLog)

	// Pages.
	e.GET("/", s.homePage)
	e.GET("/lab", s.labPage)
	e.GET("/compare", s.comparePage)
	registerStatic(e)

	// Builds.
	e.POST("/api/builds", s.buildCreate)
	e.GET("/api/builds/:id", s.buildGet)
	e.GET("/api/builds/:id/events", s.buildEvents)
	e.DELETE("/api/builds/:id", s.buildCancel)

	// Scenario runs: cold build, changes, rebuild, per variant.
	e.POST("/api/runs", s.runCreate)
	e.GET("/api/runs/:id", s.runGet)
	e.GET("/api/runs/:id/events", s.runEvents)

	// Operations.
	e.GET("/healthz", s.healthGet)
	return e, s
}

// CloseStreams ends every open event stream and waits for their goroutines.
func (s *Server) CloseStreams() {
	s.once.Do(func() { close(s.closing) })
	s.sockets.Wait()
}

func (s *Server) healthGet(c echo.Context) error {
	h := s.Health(c.Request().Context())
	body := map[string]any{"status": "ok", "worker": h}
	if !h.Ready {
		body["status"] = "unavailable"
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	return c.JSON(http.StatusOK, body)
}
