# koc — make demo builds and runs the nightly job on samples/; make test runs the whole suite.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/koc-target
CARGO ?= cargo
KOC := $(CARGO_TARGET_DIR)/release/koc
DEMO_AS_OF ?= 2025-06-30

.PHONY: build demo test fuzz-check lint bench screenshot clean

build:
	$(CARGO) build --release --bins

demo: build
	rm -rf out/demo
	$(KOC) run pipelines/demo.yaml --as-of $(DEMO_AS_OF) || test $$? -eq 3
	@echo "open out/demo/runs/$(DEMO_AS_OF)/report.html"

# the test-release profile: release with koc's debug assertions on (Cargo.toml)
test:
	$(CARGO) test --workspace --profile test-release -- --test-threads=2

# the fuzz targets compile against the library as it is (run them: docs/fuzzing.md)
fuzz-check:
	$(CARGO) check --manifest-path fuzz/Cargo.toml --bins

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --release --all-targets -- -D warnings

bench: build
	bash bench/run.sh

screenshot: demo
	bash tests/browser/screenshot.sh out/demo/runs/$(DEMO_AS_OF)/report.html docs/report-zh.png

clean:
	rm -rf out
