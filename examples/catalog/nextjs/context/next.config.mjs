/** @type {import('next').NextConfig} */
const nextConfig = {
  // Trace what the server needs at run time and copy it, with a small
  // server.js, to .next/standalone: the runtime image takes only that.
  output: "standalone",
};

export default nextConfig;
