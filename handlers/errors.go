package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/layerlab/layerlab/domain"
)

// handleError is the one place that turns an error into a status, a log
// line at the level the status deserves, and a message for the person.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var input *domain.InputError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &input):
		status, msg = http.StatusBadRequest, input.Message
	case errors.Is(err, domain.ErrShuttingDown), errors.Is(err, domain.ErrQueueFull):
		status, msg = http.StatusServiceUnavailable, err.Error()
	case errors.As(err, &he):
		status = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(status)
		}
	}

	id := errorID()
	attrs := []any{"error_id", id, "status", status, "method", c.Request().Method,
		"path", c.Request().URL.Path, "error", err}
	if status >= 500 {
		s.Log.Error("request failed", attrs...)
	} else {
		s.Log.Warn("request refused", attrs...)
	}

	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, map[string]string{"error": msg, "id": id})
}

func errorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLog logs each request at debug level and slow or failed ones above.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		level := slog.LevelDebug
		if time.Since(start) > 5*time.Second && !c.IsWebSocket() {
			level = slog.LevelInfo
		}
		s.Log.Log(c.Request().Context(), level, "request",
			"method", c.Request().Method, "path", c.Request().URL.Path,
			"status", c.Response().Status, "duration_ms", time.Since(start).Milliseconds())
		return nil
	}
}
