package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) homePage(c echo.Context) error {
	return c.HTML(http.StatusOK, "<!doctype html><title>layerlab</title><a href=/lab>lab</a>")
}

func (s *Server) labPage(c echo.Context) error {
	return c.HTML(http.StatusOK, "<!doctype html><title>layerlab lab</title>")
}

func registerStatic(e *echo.Echo) {}
