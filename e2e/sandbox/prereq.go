package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
)

// Debian package and binary names of the monitoring components.
const (
	prometheusBinary   = "prometheus"
	alertmanagerBinary = "prometheus-alertmanager"
	aptInstallCommand  = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager"
)

// checkCommands fails with a hint when go or bash (build-tools.sh) is
// missing. Certificates and tokens are made in Go: no openssl is needed.
func checkCommands() error {
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("go is not on PATH: install Go (see go.mod for the version) and retry")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return errors.New("bash is not on PATH: install it (apt-get install bash) and retry")
	}
	return nil
}

// ensureMonitoring makes sure Prometheus and Alertmanager are installed,
// installing the Debian packages when we are root.
func ensureMonitoring(progress io.Writer) error {
	if monitoringInstalled() {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("prometheus and prometheus-alertmanager are not installed: run `sudo apt-get update && sudo %s` and retry", aptInstallCommand)
	}
	fmt.Fprintln(progress, "installing prometheus and prometheus-alertmanager from the distribution's packages")
	if err := aptInstall(progress); err != nil {
		return err
	}
	if !monitoringInstalled() {
		return fmt.Errorf("apt-get installed the packages but %s or %s is still missing from PATH", prometheusBinary, alertmanagerBinary)
	}
	return nil
}

func monitoringInstalled() bool {
	_, err1 := exec.LookPath(prometheusBinary)
	_, err2 := exec.LookPath(alertmanagerBinary)
	return err1 == nil && err2 == nil
}

// aptInstall installs the packages, refreshing the package lists only when
// the first attempt cannot find them.
func aptInstall(progress io.Writer) error {
	install := func() error {
		cmd := exec.Command("sh", "-c", "DEBIAN_FRONTEND=noninteractive "+aptInstallCommand)
		cmd.Stdout, cmd.Stderr = progress, progress
		return cmd.Run()
	}
	if aptListsEmpty() || install() != nil {
		cmd := exec.Command("apt-get", "update")
		cmd.Stdout, cmd.Stderr = progress, progress
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get update failed: check the network or run `apt-get update && %s` yourself: %w", aptInstallCommand, err)
		}
		if err := install(); err != nil {
			return fmt.Errorf("install monitoring packages: run `%s` yourself to see why: %w", aptInstallCommand, err)
		}
	}
	return nil
}

func aptListsEmpty() bool {
	m, _ := filepath.Glob("/var/lib/apt/lists/*Packages*")
	return len(m) == 0
}

// checkPortFree fails with a hint when something else listens on addr.
func checkPortFree(addr, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s cannot listen on %s: the port is in use by another program (find it with `ss -ltnp 'sport = :%s'`), stop it and retry", what, addr, portOf(addr))
	}
	return ln.Close()
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}
