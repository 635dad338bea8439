"""HTTP routers, one module per API group of ../shared/API.md."""
