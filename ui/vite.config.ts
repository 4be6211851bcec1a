// Vite builds the front end for both shells: the Tauri window and the HTTP wrapper
// (`chargeguard ui-server --static ui/dist`). No React plugin: esbuild's automatic JSX
// runtime is all we need (and the React plugin does not install with vite@7 here).
import { defineConfig } from "vitest/config";

export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: {
    // `npm run dev` against a running `chargeguard ui-server --addr 127.0.0.1:8421`.
    proxy: { "/api": "http://127.0.0.1:8421" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
