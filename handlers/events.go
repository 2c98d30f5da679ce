package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// checkUpgrade refuses other sites' pages before the upgrader runs;
	// the upgrader checks again so that it never accepts one on its own.
	CheckOrigin: sameOrigin,
}

// sameOrigin accepts a request without an Origin header (a client that is
// not a browser) or one whose Origin names the host:port the request was
// sent to. Any other page could otherwise follow a build's log, and a
// browser does not hold WebSockets to the same-origin policy.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// checkUpgrade refuses an events request that is not a WebSocket upgrade or
// that comes from another site's page, with the usual JSON error.
func checkUpgrade(c echo.Context) error {
	r := c.Request()
	if !websocket.IsWebSocketUpgrade(r) {
		c.Response().Header().Set("Upgrade", "websocket")
		return echo.NewHTTPError(http.StatusUpgradeRequired,
			"this endpoint streams events over a WebSocket; open it with a WebSocket client")
	}
	if !sameOrigin(r) {
		return echo.NewHTTPError(http.StatusForbidden,
			fmt.Sprintf("event streams are served only to pages of this site, not to %q", r.Header.Get("Origin")))
	}
	return nil
}

// buildEvents streams a build's events over a WebSocket, starting after the
// seq given in ?after. This goroutine is the socket's only writer.
func (s *Server) buildEvents(c echo.Context) error {
	if err := checkUpgrade(c); err != nil {
		return err
	}
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

	// The upgrader reports a refused handshake through Error before it
	// has written anything; the answer is then left to handleError, so that
	// it carries an error id like every other.
	u := upgrader
	refused := 0
	u.Error = func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
		w.Header().Set("Sec-WebSocket-Version", "13")
		refused = status
	}
	conn, err := u.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		if refused != 0 {
			return echo.NewHTTPError(refused, "the WebSocket handshake failed: "+
				strings.TrimPrefix(err.Error(), "websocket: ")).SetInternal(err)
		}
		// The connection was taken over before the failure; no answer
		// can be written any more.
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
			return closeWith(conn, websocket.CloseNormalClosure, "stream ended")
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
