package sandbox

import (
	"errors"
	"log/slog"

	"github.com/vishvananda/netlink"
)

// removeBridge deletes the bridge that the CNI bridge plugin made for a
// stopped daemon's RUN steps. Its name derives from the daemon's root, which
// one server at a time holds, so no other daemon uses it. The veth pairs of
// the steps went with their network namespaces; the host-local IPAM state
// lies under the root and may stay. A daemon that never ran a step may have
// made no bridge, which is fine.
func removeBridge(name string, log *slog.Logger) {
	link, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		log.Debug("worker network has no bridge to remove", "bridge", name)
		return
	}
	if err != nil {
		log.Warn("look up the worker's bridge", "bridge", name, "error", err)
		return
	}
	if link.Type() != "bridge" {
		log.Warn("not removing the worker's bridge: the link of that name is no bridge",
			"bridge", name, "type", link.Type())
		return
	}
	if err := netlink.LinkDel(link); err != nil {
		log.Warn("remove the worker's bridge", "bridge", name, "error", err)
		return
	}
	log.Info("worker bridge removed", "bridge", name)
}
