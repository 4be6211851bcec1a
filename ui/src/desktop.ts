// The desktop app's own ways to reach files: the platform's file dialog and files dropped
// on the window, both answered as paths the core reads (a browser has no paths, so there
// files travel as bytes through `upload_csv`). Only the desktop app has these; in a
// browser `isDesktop()` is false and none of this is loaded.
import { isTauri } from "@tauri-apps/api/core";

export function isDesktop(): boolean {
  return isTauri();
}

/** The CSV files the person picks in the platform's dialog; none when they cancel. */
export async function pickCsvPaths(): Promise<string[]> {
  const { open } = await import("@tauri-apps/plugin-dialog");
  const picked = await open({
    title: "Choose CSV files to import",
    multiple: true,
    directory: false,
    filters: [
      { name: "CSV files and bank statements", extensions: ["csv", "CSV", "txt", "ofx", "OFX", "qfx", "QFX", "xml"] },
    ],
  });
  if (picked === null) return [];
  return Array.isArray(picked) ? picked : [picked];
}

export type DropState = { kind: "over" } | { kind: "left" } | { kind: "dropped"; paths: string[] };

/** Calls `on` as files are dragged over, away from, or dropped on the window; returns
 *  the function that stops listening. */
export async function onFileDrop(on: (state: DropState) => void): Promise<() => void> {
  const { getCurrentWebview } = await import("@tauri-apps/api/webview");
  return getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === "drop") on({ kind: "dropped", paths: p.paths });
    else if (p.type === "leave") on({ kind: "left" });
    else on({ kind: "over" });
  });
}
