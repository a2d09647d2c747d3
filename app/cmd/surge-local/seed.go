package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

// seedPlan is the demo data: a few courses, some open now and some opening
// in a few minutes (to watch a rush start), and numbered students who share
// one demo password.
type seedPlan struct {
	Courses  []surgeapi.NewCourse
	Students []surgeapi.Student
}

// maxDemoStudents bounds -students: a demo, not a load test (use bench/).
const maxDemoStudents = 100000

var givenNames = []string{"Minji", "Jisoo", "Hyun", "Seoyeon", "Doyoon", "Jiwoo", "Haeun", "Junho", "Yuna", "Taeyang", "Sora", "Eunwoo"}

// studentNo formats the demo student number i (1-based): S00001...
func studentNo(i int) string { return fmt.Sprintf("S%05d", i) }

// planSeed returns the demo data relative to now (whole seconds, UTC). The
// tiny ART150 course shows the "full" state within a few joins.
func planSeed(now time.Time, students int, password string) (seedPlan, error) {
	var errs []error
	if students < 1 || students > maxDemoStudents {
		errs = append(errs, fmt.Errorf("students must be 1..%d, got %d", maxDemoStudents, students))
	}
	if password == "" {
		errs = append(errs, errors.New("demo password must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return seedPlan{}, err
	}
	now = now.UTC().Truncate(time.Second)
	p := seedPlan{Courses: []surgeapi.NewCourse{
		{Code: "CS101", Title: "Introduction to Programming", Capacity: 40, OpensAt: now.Add(-time.Minute)},
		{Code: "MATH201", Title: "Linear Algebra", Capacity: 25, OpensAt: now},
		{Code: "ART150", Title: "Drawing Studio", Capacity: 3, OpensAt: now},
		{Code: "PHYS110", Title: "Physics I", Capacity: 30, OpensAt: now.Add(2 * time.Minute)},
		{Code: "ECON100", Title: "Principles of Economics", Capacity: 60, OpensAt: now.Add(5 * time.Minute)},
	}}
	p.Students = make([]surgeapi.Student, students)
	for i := range p.Students {
		p.Students[i] = surgeapi.Student{
			StudentNo: studentNo(i + 1),
			Name:      fmt.Sprintf("%s %d", givenNames[i%len(givenNames)], i+1),
			Password:  password,
		}
	}
	return p, nil
}
