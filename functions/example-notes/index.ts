import { notesHandler } from "./notes.ts";

Deno.serve(notesHandler(Deno.env.toObject()));
