// What the image's HEALTHCHECK asks. Rendered on every request, never
// cached at build time.
export const dynamic = "force-dynamic";

export function GET() {
  return Response.json({ status: "ok" });
}
