package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/layerlab/layerlab/domain"
)

const (
	writeWait    = 10 * time.Second
	pongWait     = 60 * time.Second
	pingInterval = 20 * time.Second
	maxClientMsg = 512
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 16 << 10,
	// The stream is read-only and public by build id, as is GET
	// /api/builds/{id}; any page may follow it.
	CheckOrigin: func(*http.Request) bool { return true },
	Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "websocket: " + reason.Error()})
	},
}

// buildEvents streams a build's events over a WebSocket, starting after the
// seq given in ?after. This goroutine is the socket's only writer.
func (s *Server) buildEvents(c echo.Context) error {
	b, ok := s.Runner.Get(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no build with that id")
	}
	return s.serveEvents(c, b.ID, b.Events)
}

// serveEvents upgrades to a WebSocket and streams log from ?after on.
func (s *Server) serveEvents(c echo.Context, id string, log *domain.EventLog) error {
	after, err := parseAfter(c.QueryParam("after"))
	if err != nil {
		return err
	}

	conn, err := upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		// The upgrader has already answered the client.
		s.Log.Warn("websocket upgrade failed", "stream_id", id, "error", err)
		return nil
	}
	s.sockets.Add(1)
	defer s.sockets.Done()
	defer conn.Close()

	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	go readControl(conn, cancel)

	if err := s.stream(ctx, conn, log, after); err != nil {
		s.Log.Debug("event stream ended", "stream_id", id, "error", err)
	}
	return nil
}

// stream writes events until the log ends, the client goes or the server
// shuts down.
func (s *Server) stream(ctx context.Context, conn *websocket.Conn, log *domain.EventLog, after int64) error {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		events, done, changed := log.After(after)
		for _, e := range events {
			_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteJSON(e); err != nil {
				return err
			}
			after = e.Seq
		}
		if done && len(events) == 0 {
			return closeWith(conn, websocket.CloseNormalClosure, "build finished")
		}
		if len(events) > 0 {
			continue
		}

		select {
		case <-changed:
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return closeWith(conn, websocket.CloseGoingAway, "server shutting down")
		}
	}
}

// readControl reads what the client sends, which should be only control
// frames, so that pongs are handled; any error ends the stream.
func readControl(conn *websocket.Conn, cancel context.CancelFunc) {
	defer cancel()
	conn.SetReadLimit(maxClientMsg)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

func closeWith(conn *websocket.Conn, code int, text string) error {
	msg := websocket.FormatCloseMessage(code, text)
	return conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
}

func parseAfter(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "after must be a sequence number (0 or more)")
	}
	return n, nil
}
