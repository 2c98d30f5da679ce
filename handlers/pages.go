package handlers

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/layerlab/layerlab/examples"
	"github.com/layerlab/layerlab/static"
	"github.com/layerlab/layerlab/web"
)

// pagePolicy keeps every page to its own origin: scripts, styles, icons and
// the event stream all come from this server, so a page that tried to load
// anything from elsewhere would fail loudly in the tests.
const pagePolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
	"script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

func (s *Server) homePage(c echo.Context) error {
	catalog, err := examples.Builtin()
	if err != nil {
		return fmt.Errorf("load examples: %w", err)
	}
	return render(c, http.StatusOK, web.Home(catalog.Groups()))
}

// labPage opens a variant of an example: ?example=ID&variant=NAME, the
// example's first variant when none is named, the starter example when no
// example is.
func (s *Server) labPage(c echo.Context) error {
	ex, ok, err := exampleOf(c)
	if err != nil || !ok {
		return err
	}

	v := ex.Variants[0]
	if name := c.QueryParam("variant"); name != "" {
		if v, ok = ex.Variant(name); !ok {
			msg := fmt.Sprintf("The example %q has no variant %q.", ex.ID, name)
			return render(c, http.StatusNotFound, web.NotFound(msg))
		}
	}
	return render(c, http.StatusOK, web.Lab(web.LabProps{Example: ex, Variant: v}))
}

// comparePage puts the variants of an example side by side, ready to run
// its scenario: ?example=ID, the starter example when none is named.
func (s *Server) comparePage(c echo.Context) error {
	ex, ok, err := exampleOf(c)
	if err != nil || !ok {
		return err
	}
	return render(c, http.StatusOK, web.Compare(web.CompareProps{Example: ex}))
}

// exampleOf finds the example that ?example names, or the starter when it
// names none. For a name that is no example it answers the request with
// the not-found page and returns false.
func exampleOf(c echo.Context) (examples.Example, bool, error) {
	catalog, err := examples.Builtin()
	if err != nil {
		return examples.Example{}, false, fmt.Errorf("load examples: %w", err)
	}
	id := c.QueryParam("example")
	if id == "" {
		return catalog.Starter(), true, nil
	}
	if ex, ok := catalog.Get(id); ok {
		return ex, true, nil
	}
	msg := fmt.Sprintf("There is no example %q.", id)
	return examples.Example{}, false, render(c, http.StatusNotFound, web.NotFound(msg))
}

// render writes a whole page or, when rendering fails, nothing: the page goes
// into a buffer first and the error to the central handler.
func render(c echo.Context, status int, page templ.Component) error {
	var buf bytes.Buffer
	if err := page.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render %s: %w", c.Path(), err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	return c.HTMLBlob(status, buf.Bytes())
}

// registerStatic serves the embedded assets under their hashed names.
func registerStatic(e *echo.Echo) {
	assets := echo.WrapHandler(static.Builtin())
	e.GET(static.Prefix+"*", assets)
	e.HEAD(static.Prefix+"*", assets)
	e.GET("/favicon.ico", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, static.URL("icons/favicon.svg"))
	})
}
