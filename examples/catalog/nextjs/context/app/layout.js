export const metadata = {
  title: "Notes",
  description: "A page served from a multi-stage image.",
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
