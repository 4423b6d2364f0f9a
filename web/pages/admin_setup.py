"""Admin pages for how demands are sorted and timed: 事项分类 (/admin/categories), 派单目录
(/admin/catalogue), 时限 (/admin/time-limits) and 工作日历 (/admin/calendar)."""
